/**
 * `sockd call` argv parsed with `node:util`'s parseArgs instead of
 * commander, for lib/cli/main.ts: commander (and the server and REPL) stay
 * unloaded for a call. Anything unusual is left to commander, for its
 * messages.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type AllCallOptions, CALL_OPTIONS } from "./call_cli.ts";
import { fleetValues } from "./fleet_call_cli.ts";

/**
 * Parses `sockd call` argv (after "call") without commander: options up to
 * the command name, then everything after it is the command's own. Returns
 * undefined for anything unusual (help, errors), which the full parser then
 * handles with its usual messages.
 */
export function parseCallArgv(
  argv: readonly string[],
): { command: string; args: string[]; options: AllCallOptions } | undefined {
  const takesValue = new Set<string>();
  for (const o of CALL_OPTIONS) {
    if (o.value) {
      takesValue.add(`--${o.long}`);
      if (o.short) takesValue.add(`-${o.short}`);
    }
  }
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith("-")) {
    if (argv[i] === "--") return undefined; // rare: leave it to the full parser
    i += takesValue.has(argv[i]!) ? 2 : 1;
  }
  if (i >= argv.length) return undefined;
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const o of CALL_OPTIONS) {
    options[o.long] = {
      type: o.value ? "string" : "boolean",
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  try {
    const { values } = parseArgs({ args: argv.slice(0, i) as string[], options, strict: true });
    const v = values as Record<string, string | boolean | string[] | undefined>;
    return {
      command: argv[i]!,
      args: argv.slice(i + 1) as string[],
      options: {
        socket: v.socket as string | undefined,
        json: v.json as boolean | undefined,
        timeout: v.timeout as string | undefined,
        stdin: v["no-stdin"] ? false : undefined,
        trustOwner: v["trust-owner"] as string | undefined,
        interval: v.interval as string | undefined,
        count: v.count as string | undefined,
        ...fleetValues(v),
      },
    };
  } catch {
    return undefined;
  }
}
