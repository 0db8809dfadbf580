/**
 * A command's public description (no code), as `help`, completion and
 * introspection show it, and its one-line usage.
 *
 * @module
 */
import type { ArgSpec, Command } from "./command.ts";
import type { CommandInfo } from "./server_view.ts";

/** What a command that declares no `args` takes: any words, as they are. */
const RAW_WORDS: ArgSpec[] = [{ name: "words", variadic: true, description: "Passed as they are" }];

/** Describes a command for `help` and introspection. */
export function commandInfo(cmd: Command, source: string): CommandInfo {
  return {
    name: cmd.name,
    summary: cmd.summary,
    description: cmd.description,
    usage: usageLine(cmd),
    access: cmd.access ?? "operate",
    args: cmd.args ?? RAW_WORDS,
    flags: cmd.flags ?? {},
    timeout: cmd.timeout,
    persistent: cmd.persistent ?? false,
    input: cmd.input ?? false,
    source,
  };
}

/** The one-line usage of a command, e.g. `tail [--lines N] FILE`. */
export function usageLine(cmd: Pick<Command, "name" | "args" | "flags">): string {
  const parts = [cmd.name];
  for (const [name, spec] of Object.entries(cmd.flags ?? {})) {
    const value = spec.type === "boolean" ? "" : ` ${spec.type === "number" ? "N" : "VALUE"}`;
    parts.push(`[--${name}${value}]`);
  }
  for (const a of cmd.args ?? RAW_WORDS) {
    const word = a.name.toUpperCase() + (a.variadic ? "..." : "");
    parts.push(a.optional || a.variadic ? `[${word}]` : word);
  }
  return parts.join(" ");
}
