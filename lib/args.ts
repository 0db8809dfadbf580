/**
 * Parses the words of a call against a command's declared args and flags.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { Command, Flags, FlagSpec } from "./command.ts";
import { usageLine } from "./command_info.ts";
import { SockdError, Status } from "./errors.ts";
import { suggest } from "./_suggest.ts";

/** Positional arguments and flags, parsed. */
export interface ParsedArgs {
  args: string[];
  flags: Flags;
}

/** What {@linkcode parseCallArgs} needs of a command, worked out once per command. */
interface Compiled {
  options: NonNullable<ParseArgsConfig["options"]>;
  flagNames: string[];
  flagSpecs: FlagSpec[];
  required: number;
  declared: number;
  variadic: boolean;
}

const compiled = new WeakMap<Command, Compiled>();

function compile(cmd: Command): Compiled {
  let c = compiled.get(cmd);
  if (c) return c;
  const specs = cmd.flags ?? {};
  const options: NonNullable<ParseArgsConfig["options"]> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = {
      type: spec.type === "boolean" ? "boolean" : "string",
      ...(spec.short ? { short: spec.short } : {}),
    };
  }
  const declared = cmd.args ?? [];
  c = {
    options,
    flagNames: Object.keys(specs),
    flagSpecs: Object.values(specs),
    required: declared.filter((a) => !a.optional && !a.variadic).length,
    declared: declared.length,
    // No args declared: any number of words.
    variadic: cmd.args === undefined || (declared.at(-1)?.variadic ?? false),
  };
  compiled.set(cmd, c);
  return c;
}

/**
 * Splits `words` into positionals and flags as `cmd` declares them, or throws
 * a BAD_ARGS (110) {@linkcode SockdError} carrying the usage line.
 */
export function parseCallArgs(cmd: Command, words: readonly string[]): ParsedArgs {
  // Nothing declared: the words as they are, flag-like ones too.
  if (cmd.args === undefined && cmd.flags === undefined) return { args: words.slice(), flags: {} };
  const c = compile(cmd);
  let positionals: string[] | undefined;
  let values: Record<string, unknown> | undefined;
  if (!words.some(isOptionLike)) {
    // No word looks like a flag (the common case): all are positionals, no parser needed.
    positionals = words.slice();
  } else {
    let parsed;
    try {
      parsed = parseArgs({ args: [...words], options: c.options, allowPositionals: true, strict: true });
    } catch (err) {
      throw badArgs(cmd, withSuggestion(cleanParseError(err), c.flagNames));
    }
    positionals = parsed.positionals;
    values = parsed.values as Record<string, unknown>;
  }
  const flags: Flags = {};
  for (let i = 0; i < c.flagNames.length; i++) {
    const name = c.flagNames[i]!;
    const spec = c.flagSpecs[i]!;
    const raw = values?.[name];
    if (raw === undefined) {
      flags[name] = spec.default;
    } else if (spec.type === "number") {
      const n = Number(raw);
      if (raw === "" || !Number.isFinite(n)) {
        throw badArgs(cmd, `--${name} needs a number, got "${raw}"`);
      }
      flags[name] = n;
    } else {
      flags[name] = raw as string | boolean;
    }
  }
  const args = positionals;
  if (args.length < c.required) {
    const missing = cmd.args![args.length]!;
    throw badArgs(cmd, `Missing argument ${missing.name.toUpperCase()}`);
  }
  if (!c.variadic && args.length > c.declared) {
    throw badArgs(cmd, `Unexpected argument "${args[c.declared]}"`);
  }
  return { args, flags };
}

/** A word the option parser would read as a flag (or as `--`); a lone `-` is a positional. */
function isOptionLike(word: string): boolean {
  return word.length > 1 && word.charCodeAt(0) === 0x2d;
}

function badArgs(cmd: Command, message: string): SockdError {
  const usage = usageLine(cmd);
  return new SockdError(Status.BAD_ARGS, `${message} (usage: ${usage})`, {
    details: { usage },
  });
}

/** `Unknown option '--shuot'` gains ` (did you mean --shout?)` when a declared flag is close. */
function withSuggestion(message: string, flagNames: string[]): string {
  const word = /^Unknown option '--([^'=]+)'/.exec(message)?.[1];
  const close = word === undefined ? undefined : suggest(word, flagNames);
  return close === undefined ? message : `${message} (did you mean --${close}?)`;
}

function cleanParseError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // node's messages mention "To specify a positional argument..." hints: keep the first sentence.
  return msg.split(". ")[0]!.replace(/\.$/, "");
}
