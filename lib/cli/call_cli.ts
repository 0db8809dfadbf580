/**
 * `sockd call` from argv to exit code. Its options are declared once here:
 * commander builds `sockd call --help` from them, and the fast path parses
 * them with `node:util` so a one-shot call does not load commander (or the
 * server and REPL) at all: cold start is what scripts in loops pay.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { runCall } from "./call.ts";
import { parseDuration } from "./duration.ts";
import { Exit } from "./exit_codes.ts";
import { errorLine } from "./render.ts";
import { defaultSocketPath, trustedOwner } from "./socket_path.ts";
import {
  FLEET_OPTIONS,
  fleetCallAction,
  type FleetCliOptions,
  fleetValues,
  isFleetCall,
} from "./fleet_call_cli.ts";

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
}

/** The parsed options of `sockd call`, the fleet ones included. */
export type AllCallOptions = CallCliOptions & FleetCliOptions;

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
        ...fleetValues(v),
      },
    };
  } catch {
    return undefined;
  }
}

/** Runs `sockd call` with parsed options; returns the exit code. */
export async function callAction(
  command: string,
  args: string[],
  opts: AllCallOptions,
  err: (line: string) => void,
): Promise<number> {
  if (isFleetCall(opts)) return await fleetCallAction(command, args, opts, err);
  let timeoutMs: number | undefined;
  let trustOwner: number | undefined;
  try {
    timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout);
    trustOwner = trustedOwner(opts.trustOwner);
  } catch (e) {
    err(errorLine((e as Error).message));
    return Exit.USAGE;
  }
  const interrupt = new AbortController();
  const onInt = () => interrupt.abort();
  Deno.addSignalListener("SIGINT", onInt);
  const stdout = Deno.stdout.writable.getWriter();
  try {
    return await runCall(
      command,
      args,
      {
        socket: opts.socket ?? defaultSocketPath(),
        json: opts.json === true,
        timeoutMs,
        stdin: opts.stdin !== false && !Deno.stdin.isTerminal(),
        trustOwner,
      },
      { stdout, stderr: err, stdin: Deno.stdin.readable },
      interrupt.signal,
    );
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    await stdout.ready.catch(() => {}); // a closed pipe (`| head`) was already handled
    stdout.releaseLock();
  }
}
