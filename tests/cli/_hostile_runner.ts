/**
 * The cases of hostile_server_test.ts and their judge: what a fake server
 * does, which outcomes of `sockd call` are legitimate for it, and the runner
 * that puts every case through both paths of the CLI (_call_paths.ts) a few
 * at a time and names each that broke.
 */
import { Exit } from "../../lib/cli/exit_codes.ts";
import { assertEquals } from "../assert.ts";
import { FAST, FULL, type Run, run } from "./_call_paths.ts";
import { type ClientBytes, fakeServer, send } from "./_fake_server.ts";

/** The `--timeout` every run gets, and the client's slack past it (lib/cli/call.ts). */
export const TIMEOUT_MS = 500;
export const SLACK_MS = 2000;
/** Time for Deno to start and stop a subprocess on a busy machine. */
export const START_MS = 2000;
/** Runs at once (most wait on a timer, not the CPU). */
const PARALLEL = 8;
const CODES: ReadonlySet<number> = new Set(Object.values(Exit));
const dec = new TextDecoder();

/** One hostile server and what may legitimately come of it. */
export interface Case {
  name: string;
  /** Arguments after `--timeout`; default `--no-stdin ping` (the call is id 1). */
  args?: string[];
  answer: (conn: Deno.Conn, client: ClientBytes) => Promise<void>;
  /** Exit codes allowed besides 0. */
  codes: readonly number[];
  /** What stderr must match, when the case knows. */
  said?: RegExp;
  /** Whether an exit 0 with this stdout is what a sane server could have caused; exit 0 is wrong without it. */
  ok?: (stdout: string, bytes: Uint8Array) => boolean;
}

export function cat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

/** A frame of `body` (length prefix + body). */
export function framed(body: Uint8Array, size = body.length): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, size);
  out.set(body, 4);
  return out;
}

/** Sends `bytes` once the client's first bytes arrived; then closes, or (`open`) waits until the client does. */
export function before(bytes: Uint8Array, open: boolean): Case["answer"] {
  return async (conn, client) => {
    await client.until(0);
    await send(conn, bytes);
    if (open) await client.drain();
  };
}

/** Sends a real hello, waits for the call, sends `bytes`; then closes, or (`open`) waits. */
export function after(hello: Uint8Array, bytes: Uint8Array, open: boolean): Case["answer"] {
  return async (conn, client) => {
    await client.until(0);
    await send(conn, hello);
    await client.until(1);
    await send(conn, bytes);
    if (open) await client.drain();
  };
}

/** What one run of a case broke, or undefined. */
function judge(c: Case, r: Run): string | undefined {
  const out = dec.decode(r.stdout);
  if (r.killed) return `killed after ${Math.round(r.ms)} ms`;
  if (r.ms > TIMEOUT_MS + SLACK_MS + START_MS) return `ran ${Math.round(r.ms)} ms`;
  if (!CODES.has(r.code)) return `exit ${r.code}`;
  const lines = r.stderr === "" ? [] : r.stderr.replace(/\n$/, "").split("\n");
  if (!r.stderr.endsWith("\n") && r.stderr !== "") return "stderr does not end a line";
  for (const line of lines) {
    if (!/^sockd: \S/.test(line) || /Uncaught|panicked|^error:|\n\s+at /.test(line)) return "stderr";
  }
  if (c.args?.includes("--json")) {
    const why = jsonOutput(out, r.code);
    if (why) return why;
  }
  if (r.code === 0) {
    if (!c.ok?.(out, r.stdout)) return "exit 0";
    if (lines.length > 0) return "exit 0 with errors";
    return undefined;
  }
  if (!c.codes.includes(r.code)) return `exit ${r.code}, not ${c.codes.join("|")}`;
  if (c.said && !c.said.test(r.stderr)) return `stderr not ${c.said}`;
  return lines.length === 0 ? "no error line" : undefined;
}

/** What is wrong with `--json` output: JSON lines, the last the call's end, its status 0 only on exit 0. */
function jsonOutput(out: string, code: number): string | undefined {
  if (!out.endsWith("\n")) return "--json output does not end a line";
  let last: unknown;
  for (const line of out.slice(0, -1).split("\n")) {
    try {
      last = JSON.parse(line);
    } catch {
      return `--json line not JSON: ${line.slice(0, 60)}`;
    }
  }
  const status = (last as { status?: unknown } | null)?.status;
  if (typeof status !== "number") return "--json output does not end with a status";
  return (status === 0) === (code === 0) ? undefined : `--json status ${status} with exit ${code}`;
}

/** Runs every case through both paths, `PARALLEL` at a time; fails naming each broken one. Logs the exit codes seen. */
export async function runAll(dir: string, cases: Case[], seed: number): Promise<void> {
  const failures: string[] = [];
  const exits: Record<number, number> = {};
  let slowest = 0;
  const t0 = performance.now();
  const jobs = cases.flatMap((c, i) => [FAST, FULL].map((entry) => ({ c, i, entry })));
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const { c, i, entry } = jobs[next++]!;
      const path = `${dir}/${i}-${entry === FAST ? "fast" : "full"}.sock`;
      await using _fake = fakeServer(path, c.answer);
      const args = ["-s", path, "--timeout", `${TIMEOUT_MS}ms`, ...(c.args ?? ["--no-stdin", "ping"])];
      const r = await run(entry, args, { deadlineMs: TIMEOUT_MS + SLACK_MS + START_MS + 5000 });
      exits[r.code] = (exits[r.code] ?? 0) + 1;
      slowest = Math.max(slowest, r.ms);
      const why = judge(c, r);
      if (why) {
        failures.push(
          `${c.name} (${entry === FAST ? "fast" : "full"}): ${why}; exit ${r.code}, ` +
            `stdout ${JSON.stringify(shorten(dec.decode(r.stdout)))}, stderr ${JSON.stringify(r.stderr)}`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  const took = Math.round(performance.now() - t0);
  const bound = TIMEOUT_MS + SLACK_MS + START_MS;
  console.log(
    `${jobs.length} runs in ${took} ms, seed ${seed}, exit codes ${JSON.stringify(exits)}, ` +
      `slowest run ${Math.round(slowest)} ms (bound ${bound})`,
  );
  assertEquals(failures, [], `seed ${seed} (SOCKD_HOSTILE_SEED)`);
}

/** Whether `out` is `want` with at most one bit flipped. */
export function oneBitFrom(out: Uint8Array, want: Uint8Array): boolean {
  if (out.length !== want.length) return false;
  let bits = 0;
  for (let i = 0; i < out.length; i++) {
    for (let x = out[i]! ^ want[i]!; x; x &= x - 1) bits++;
  }
  return bits <= 1;
}

/** `text`, or its ends around the middle left out. */
function shorten(text: string): string {
  return text.length <= 100 ? text : `${text.slice(0, 40)}…(${text.length - 80} more)…${text.slice(-40)}`;
}
