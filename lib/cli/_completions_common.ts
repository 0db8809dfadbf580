/**
 * What the completion scripts of every shell share: the subcommand model, the
 * options that take a value, the sed fallbacks for machines without jq, and
 * shell quoting.
 *
 * @module
 */

/** The shells a script can be written for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;
/** One of {@linkcode SHELLS}. */
export type Shell = typeof SHELLS[number];

/** An option of a subcommand, as the script needs to know it. */
export interface OptionSpec {
  /** Its spellings, e.g. `["-s", "--socket"]`. */
  names: string[];
  /** Whether it takes a value (so the next word is not a command). */
  takesValue: boolean;
  /** One line of help (zsh and fish show it). */
  description?: string;
}

/** A subcommand of sockd. */
export interface SubcommandSpec {
  name: string;
  description?: string;
  options: OptionSpec[];
}

/** Spellings of every option that takes a value, across subcommands. */
export function valueOptions(subs: readonly SubcommandSpec[]): string[] {
  return [...new Set(subs.flatMap((s) => s.options.filter((o) => o.takesValue).flatMap((o) => o.names)))]
    .sort();
}

export function optionWords(sub: SubcommandSpec): string {
  return [...sub.options.flatMap((o) => o.names), "--help"].join(" ");
}

/** sed programs for machines without jq (they read `sockd call`'s indented JSON). */
export const SED_NAMES = `s/^    "name": "\\([^"]*\\)".*/\\1/p`;
export const SED_FLAGS = `/^  "flags": {/,/^  }/s/^    "\\([^"]*\\)": {.*/--\\1/p`;

/** Quotes `text` for bash and zsh. */
export function shQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** Quotes `text` for fish. */
export function fishQuote(text: string): string {
  return `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}
