/**
 * The two paths of `sockd call`, run as subprocesses with the `sockd`
 * permission set: main.ts's fast path (lib/cli/call_fast.ts, the one-shot
 * client) and the full CLI (lib/cli/main.ts, lib/client.ts). Shared by
 * call_fast_test.ts, which compares them, and hostile_server_test.ts, which
 * feeds both garbage.
 */
import { DENO, ROOT } from "../_helpers.ts";

/** main.ts: a plain `sockd call` takes the fast path. */
export const FAST: readonly string[] = [`${ROOT}main.ts`];
/** The full CLI without main.ts's fast path. */
export const FULL: readonly string[] = [`${ROOT}tests/cli/fixtures/full_cli.ts`];

/** What a `sockd call` printed and how it ended. */
export interface Run {
  code: number;
  stdout: Uint8Array;
  stderr: string;
  /** Wall time from spawn to exit, in ms. */
  ms: number;
  /** Whether it was killed at the deadline. */
  killed: boolean;
}

/** Options of {@linkcode run}. */
export interface RunOptions {
  stdin?: string;
  env?: Record<string, string>;
  /** The process is killed after this many ms (default 15 s). */
  deadlineMs?: number;
}

/** Runs `sockd call ARGS` through `entry` ({@linkcode FAST} or {@linkcode FULL}). */
export async function run(entry: readonly string[], args: string[], options: RunOptions = {}): Promise<Run> {
  const deadline = AbortSignal.timeout(options.deadlineMs ?? 15_000);
  const t0 = performance.now();
  const child = new Deno.Command(DENO, {
    args: ["run", "-q", "-P=sockd", ...entry, "call", ...args],
    cwd: ROOT,
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    // A run that hangs (a server that never greets, and no deadline) is killed, and then differs.
    signal: deadline,
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: out.stdout,
    stderr: new TextDecoder().decode(out.stderr),
    ms: performance.now() - t0,
    killed: deadline.aborted,
  };
}
