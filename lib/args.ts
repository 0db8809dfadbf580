/**
 * Parses the words of a call against a command's declared args and flags.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { Command, Flags } from "./command.ts";
import { usageLine } from "./command.ts";
import { SockdError, Status } from "./errors.ts";

/** Positional arguments and flags, parsed. */
export interface ParsedArgs {
  args: string[];
  flags: Flags;
}

/**
 * Splits `words` into positionals and flags as `cmd` declares them, or throws
 * a BAD_ARGS (110) {@linkcode SockdError} carrying the usage line.
 */
export function parseCallArgs(cmd: Command, words: readonly string[]): ParsedArgs {
  const specs = cmd.flags ?? {};
  const options: NonNullable<ParseArgsConfig["options"]> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = {
      type: spec.type === "boolean" ? "boolean" : "string",
      ...(spec.short ? { short: spec.short } : {}),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...words], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw badArgs(cmd, cleanParseError(err));
  }
  const flags: Flags = {};
  for (const [name, spec] of Object.entries(specs)) {
    const raw = (parsed.values as Record<string, unknown>)[name];
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
  const args = parsed.positionals;
  const declared = cmd.args ?? [];
  const required = declared.filter((a) => !a.optional && !a.variadic).length;
  const variadic = declared.at(-1)?.variadic ?? false;
  if (args.length < required) {
    const missing = declared[args.length]!;
    throw badArgs(cmd, `Missing argument ${missing.name.toUpperCase()}`);
  }
  if (!variadic && args.length > declared.length) {
    throw badArgs(cmd, `Unexpected argument "${args[declared.length]}"`);
  }
  return { args, flags };
}

function badArgs(cmd: Command, message: string): SockdError {
  const usage = usageLine(cmd);
  return new SockdError(Status.BAD_ARGS, `${message} (usage: ${usage})`, {
    details: { usage },
  });
}

function cleanParseError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // node's messages mention "To specify a positional argument..." hints: keep the first sentence.
  return msg.split(". ")[0]!.replace(/\.$/, "");
}
