/**
 * `sockd call` the way scripts type it, `sockd call [--socket PATH] [--json]
 * [--timeout D] [--no-stdin] [--trust-owner USER] COMMAND [ARGS...]`,
 * started from main.ts before anything else is loaded. It runs the same
 * `localCallAction` as the full CLI, on the one-shot client
 * (_oneshot_client.ts), so it loads no commander, no msgpackr and no
 * `node:` module: a cold call costs little more than Deno's own start.
 * Every other form of the command line (help, --interval, --host, `--`,
 * `-sPATH`, a repeated option, a value that starts with `-`, ...) is left to
 * the full CLI, which parses it and says what is wrong.
 *
 * @module
 */
import { type CallCliOptions, localCallAction } from "./call_cli.ts";
import { connectOneShot } from "./_oneshot_client.ts";

const encoder = new TextEncoder();

/** Options that take a value, by every spelling, and their key in {@linkcode CallCliOptions}. */
const VALUED: ReadonlyMap<string, "socket" | "timeout" | "trustOwner"> = new Map([
  ["-s", "socket"],
  ["--socket", "socket"],
  ["-t", "timeout"],
  ["--timeout", "timeout"],
  ["--trust-owner", "trustOwner"],
]);

/**
 * The command and options of a plain `sockd call` (argv after "call"), or
 * undefined for anything else.
 *
 * @example
 * ```ts
 * import { parsePlainCall } from "./call_fast.ts";
 * const plain = parsePlainCall(["-s", "/run/app.sock", "--json", "stats", "--top", "5"]);
 * console.assert(plain?.command === "stats" && plain.args.join(" ") === "--top 5");
 * console.assert(plain?.options.socket === "/run/app.sock" && plain.options.json === true);
 * console.assert(parsePlainCall(["--interval", "1s", "stats"]) === undefined);
 * ```
 */
export function parsePlainCall(
  argv: readonly string[],
): { command: string; args: string[]; options: CallCliOptions } | undefined {
  const options: CallCliOptions = {};
  const seen = new Set<string>();
  let i = 0;
  for (; i < argv.length && argv[i]!.startsWith("-"); i++) {
    const word = argv[i]!;
    const eq = word.startsWith("--") ? word.indexOf("=") : -1;
    const name = eq > 0 ? word.slice(0, eq) : word;
    const key = VALUED.get(name) ?? (name === "--json" || name === "--no-stdin" ? name : undefined);
    if (key === undefined || seen.has(key)) return undefined;
    seen.add(key);
    if (key === "--json" || key === "--no-stdin") {
      if (eq > 0) return undefined;
      if (key === "--json") options.json = true;
      else options.stdin = false;
      continue;
    }
    const value = eq > 0 ? word.slice(eq + 1) : argv[++i];
    if (value === undefined || value.startsWith("-")) return undefined;
    options[key] = value;
  }
  if (i >= argv.length) return undefined;
  return { command: argv[i]!, args: argv.slice(i + 1), options };
}

/**
 * Runs a plain `sockd call` (argv after "call") and resolves to its exit
 * code, or to undefined, having done nothing, when the command line is for
 * the full CLI.
 */
export async function fastCall(argv: readonly string[]): Promise<number | undefined> {
  const plain = parsePlainCall(argv);
  if (!plain) return undefined;
  const err = (text: string) => void Deno.stderr.writeSync(encoder.encode(text));
  return await localCallAction(plain.command, plain.args, plain.options, err, connectOneShot);
}
