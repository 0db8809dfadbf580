/**
 * What the REPL shows, dimmed, after what is typed (as redis-cli does): the
 * rest of the command's usage, from its declared args and flags, without the
 * flags already given and the positionals already typed.
 *
 * @module
 */
import type { CommandInfo } from "../command.ts";
import { tokenize } from "../dialects/_tokenize.ts";

/**
 * The hint after `words` (the command's words after its name, complete: the
 * line ends with a space); empty when nothing is left to hint.
 *
 * @example
 * ```ts
 * import { argumentHint } from "./_hints.ts";
 * const greet = {
 *   args: [{ name: "name", optional: true }],
 *   flags: { shout: { type: "boolean" as const } },
 * };
 * console.assert(argumentHint(greet, []) === "[--shout] [NAME]");
 * console.assert(argumentHint(greet, ["--shout"]) === "[NAME]");
 * console.assert(argumentHint(greet, ["bob"]) === "[--shout]");
 * ```
 */
export function argumentHint(info: Pick<CommandInfo, "args" | "flags">, words: readonly string[]): string {
  const given = new Set<string>();
  let positionals = 0;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w.startsWith("--") && w.length > 2) {
      const name = w.slice(2).split("=")[0]!;
      given.add(name);
      // A flag that takes a value consumes the next word.
      if (!w.includes("=") && info.flags[name] && info.flags[name]!.type !== "boolean") i++;
    } else if (w.startsWith("-") && w.length === 2) {
      const entry = Object.entries(info.flags).find(([, f]) => f.short === w[1]);
      if (entry) {
        given.add(entry[0]);
        if (entry[1].type !== "boolean") i++;
      }
    } else {
      positionals++;
    }
  }
  const parts: string[] = [];
  for (const [name, spec] of Object.entries(info.flags)) {
    if (given.has(name)) continue;
    parts.push(`[--${name}${spec.type === "boolean" ? "" : spec.type === "number" ? " N" : " VALUE"}]`);
  }
  info.args.forEach((a, i) => {
    if (i < positionals && !a.variadic) return;
    const word = a.name.toUpperCase() + (a.variadic ? "..." : "");
    parts.push(a.optional || a.variadic ? `[${word}]` : word);
  });
  return parts.join(" ");
}

/** Where hints come from: the server's `help COMMAND --json`, asked once per command. */
export interface HintCatalog {
  info(name: string): Promise<CommandInfo | undefined>;
}

/** Hints for the line being typed, from command descriptions fetched in the background. */
export class Hints {
  #catalog: HintCatalog;
  #redraw: () => void;
  #infos = new Map<string, CommandInfo | undefined>();

  /** `redraw` is called when a description arrives, so the hint can be shown. */
  constructor(catalog: HintCatalog, redraw: () => void) {
    this.#catalog = catalog;
    this.#redraw = redraw;
  }

  /** Forgets what the server said (it may have changed). */
  clear(): void {
    this.#infos.clear();
  }

  /** The hint after `text` (the whole line, cursor at its end): "" until a word is complete, or when unknown. */
  for(text: string): string {
    if (!text.endsWith(" ")) return "";
    let words: string[];
    try {
      words = tokenize(text);
    } catch {
      return ""; // an open quote
    }
    const [command, ...rest] = words;
    if (command === undefined) return "";
    if (!this.#infos.has(command)) {
      this.#infos.set(command, undefined);
      this.#catalog.info(command).then((info) => {
        if (!info) {
          this.#infos.delete(command); // ask again next time
          return;
        }
        this.#infos.set(command, info);
        this.#redraw();
      }, () => this.#infos.delete(command));
      return "";
    }
    const info = this.#infos.get(command);
    return info ? argumentHint(info, rest) : "";
  }
}
