/**
 * `sockd call` from parsed options to exit code. Its options are declared
 * once here: commander builds `sockd call --help` from them, call_argv.ts
 * parses them without commander, and call_fast.ts parses the plain forms
 * without loading anything else. Nothing here imports a `node:` or npm
 * module: a plain `sockd call` runs this module on its cold path.
 *
 * @module
 */
import { type SockdError, Status } from "../errors.ts";
import { quote } from "../dialects/_tokenize.ts";
import { type Connector, runCall } from "./call.ts";
import { parseDuration } from "./duration.ts";
import { AbortFlag, sleep } from "../_abortable.ts";
import { Exit } from "./exit_codes.ts";
import { errorLine } from "./render.ts";
import { defaultSocketPath, trustedOwner } from "./socket_path.ts";
import { FLEET_OPTIONS, fleetCallAction, type FleetCliOptions, isFleetCall } from "./fleet_call_cli.ts";

/** One option of `sockd call`. */
export interface CallOptionSpec {
  long: string;
  short?: string;
  /** Placeholder of the value, for options that take one. */
  value?: string;
  /** May be given more than once (the values are collected). */
  multiple?: boolean;
  description: string;
}

/** The options of `sockd call`, in help order. */
export const CALL_OPTIONS: readonly CallOptionSpec[] = [
  {
    long: "socket",
    short: "s",
    value: "path",
    description: "Socket path (default: $SOCKD_SOCKET, $XDG_RUNTIME_DIR/sockd.sock, or per-user)",
  },
  { long: "json", description: "Print one JSON object per event" },
  {
    long: "timeout",
    short: "t",
    value: "duration",
    description: "Deadline for the call (500ms, 5s, 2m; bare numbers are seconds)",
  },
  { long: "no-stdin", description: "Do not send stdin as the command's input" },
  {
    long: "interval",
    short: "i",
    value: "duration",
    description: "Repeat the call every duration, as watch does (until Ctrl-C, or --count times)",
  },
  { long: "count", short: "n", value: "N", description: "Make the call N times (with --interval between)" },
  {
    long: "trust-owner",
    value: "user",
    description: "Also trust this user (name or uid) to own the socket (default: $SOCKD_TRUST_OWNER)",
  },
  ...FLEET_OPTIONS,
];

/** Parsed options of `sockd call`, as commander also produces them. */
export interface CallCliOptions {
  socket?: string;
  json?: boolean;
  timeout?: string;
  /** False with --no-stdin. */
  stdin?: boolean;
  /** --trust-owner. */
  trustOwner?: string;
  /** --interval: repeat the call. */
  interval?: string;
  /** --count: how many calls. */
  count?: string;
}

/** The parsed options of `sockd call`, the fleet ones included. */
export type AllCallOptions = CallCliOptions & FleetCliOptions;

function parseCount(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`--count needs a whole number of calls, at least 1, got "${text}"`);
  }
  return n;
}

/**
 * When the server refused one of sockd's own options given after the command
 * (`sockd call stats --json`): the corrected command line, to add to the error.
 */
export function misplacedOption(
  error: SockdError,
  command: string,
  args: readonly string[],
  opts: CallCliOptions,
): string | undefined {
  if (error.status !== Status.BAD_ARGS) return undefined;
  const word = /unknown option '([^']+)'/i.exec(error.message)?.[1];
  const own = CALL_OPTIONS.find((o) => word === `--${o.long}` || (o.short && word === `-${o.short}`));
  if (!own) return undefined;
  const at = args.indexOf(word!);
  const moved = args.slice(at, at + (own.value ? 2 : 1));
  const rest = [...args.slice(0, at), ...args.slice(at + moved.length)];
  const before: string[] = [];
  if (opts.socket !== undefined) before.push("--socket", opts.socket);
  if (opts.json) before.push("--json");
  if (opts.timeout !== undefined) before.push("--timeout", opts.timeout);
  if (opts.stdin === false) before.push("--no-stdin");
  if (opts.trustOwner !== undefined) before.push("--trust-owner", opts.trustOwner);
  if (opts.interval !== undefined) before.push("--interval", opts.interval);
  if (opts.count !== undefined) before.push("--count", opts.count);
  const line = ["sockd", "call", ...before, ...moved, command, ...rest].map(quote).join(" ");
  return `${word} is an option of sockd call, which goes before the command: ${line}`;
}

/**
 * Runs `sockd call` with parsed options; returns the exit code. `connect`
 * opens the connection: lib/client.ts's, or the one-shot client's.
 */
export async function callAction(
  command: string,
  args: string[],
  opts: AllCallOptions,
  err: (line: string) => void,
  connect: Connector,
): Promise<number> {
  if (isFleetCall(opts)) return await fleetCallAction(command, args, opts, err);
  return await localCallAction(command, args, opts, err, connect);
}

/**
 * {@linkcode callAction} on this machine's socket: what a plain `sockd call`
 * (call_fast.ts) runs, so that its bundle leaves the fleet's code out.
 */
export async function localCallAction(
  command: string,
  args: string[],
  opts: CallCliOptions,
  err: (line: string) => void,
  connect: Connector,
): Promise<number> {
  let timeoutMs: number | undefined;
  let trustOwner: number | undefined;
  let intervalMs: number | undefined;
  let count = 1;
  try {
    timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout);
    trustOwner = trustedOwner(opts.trustOwner);
    intervalMs = opts.interval === undefined ? undefined : parseDuration(opts.interval);
    count = opts.count === undefined ? (intervalMs === undefined ? 1 : Infinity) : parseCount(opts.count);
  } catch (e) {
    err(errorLine((e as Error).message));
    return Exit.USAGE;
  }
  const interrupt = new AbortFlag();
  const onInt = () => interrupt.abort();
  Deno.addSignalListener("SIGINT", onInt);
  // Straight to the file, not through Deno.stdout.writable: setting up web streams costs a
  // cold call 2–6 ms. stdin's stream is made only when a command takes input.
  const stdout = {
    write: (bytes: Uint8Array) => writeAll(Deno.stdout, bytes),
    writeSync: Deno.stdout.isTerminal() ? undefined : writeAllSync,
  };
  const io = {
    stdout,
    stderr: err,
    get stdin() {
      return Deno.stdin.readable;
    },
  };
  try {
    let code: number = Exit.OK;
    for (let n = 0; n < count && !interrupt.aborted; n++) {
      if (n > 0 && intervalMs) await sleep(intervalMs, interrupt);
      if (interrupt.aborted) return Exit.INTERRUPTED;
      code = await runCall(
        command,
        args,
        {
          socket: opts.socket ?? defaultSocketPath(),
          connect,
          json: opts.json === true,
          timeoutMs,
          // Input can be sent once: a repeated call gets none.
          stdin: count === 1 && opts.stdin !== false && !Deno.stdin.isTerminal(),
          trustOwner,
          hint: (e) => misplacedOption(e, command, args, opts),
          // People get tables; a pipe or a file gets JSON, as before.
          human: opts.json !== true && Deno.stdout.isTerminal(),
        },
        io,
        interrupt,
      );
      // Interrupted, or nobody reads the output any more: stop repeating.
      if (code === Exit.INTERRUPTED || code === Exit.BROKEN_PIPE) return code;
    }
    return code;
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
  }
}

/**
 * Stdout that is not a terminal (a pipe, a file, /dev/null) is written synchronously, as Node
 * writes files and pipes on Linux: Deno's async write to them goes through its blocking thread
 * pool, a thread wake-up per chunk. Streaming 1 GiB of 64 KiB chunks through `sockd call`
 * (medians of 5 interleaved runs): to a pipe 1.53 -> 0.97 s, to /dev/null about twice as fast.
 * A full pipe blocks the process until its reader reads or exits (a reader gone ends the call,
 * as before). A terminal keeps async writes, as before, and so does any write while stdin is
 * being read into the call (call.ts).
 */
function writeAllSync(bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}

async function writeAll(file: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
}
