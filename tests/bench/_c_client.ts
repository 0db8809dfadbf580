/**
 * The C load client (tests/bench/c/callbench.c): built with gcc into the
 * bench cache on first use (again when its source changes), then run once
 * per sample. One client for every server, so the ratios compare servers.
 *
 * The binary lives at a fixed path in the checkout (`.bench-cache/`,
 * gitignored) because deno.json's "bench" permission set names each program
 * the suite may run, and a name cannot cover a fresh temp dir.
 *
 * @module
 */
import type { Window } from "./_measure.ts";
import { ROOT } from "./_processes.ts";

/** What the bench builds or installs for itself (gitignored; named in deno.json's "bench" set). */
export const CACHE = `${ROOT}.bench-cache`;
/** The built client. */
export const CALLBENCH = `${CACHE}/callbench`;
const SOURCE = `${ROOT}tests/bench/c/callbench.c`;
const STAMP = `${CACHE}/callbench.sha256`;

/** How to talk to one server: the request, where an answer ends, and what it must contain. */
export interface Wire {
  /** Request bytes; `{id}` is replaced by a counter per connection. */
  request: string;
  /** The byte sequence that ends each answer. */
  end: string;
  /** Text every answer must contain (else the sample fails). */
  expect: string;
  /** Sent once per connection first; its one answer is read and not counted. */
  preface?: string;
}

/** One load: a wire on a socket, `conns` connections each with `depth` requests outstanding. */
export interface Load extends Wire {
  socket: string;
  conns: number;
  depth: number;
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

let built: Promise<string> | undefined;

/**
 * Builds the client if needed; resolves to its path, or rejects with what
 * to install when gcc is missing or the build fails.
 */
export function buildCallbench(): Promise<string> {
  return built ??= (async () => {
    const want = await sha256(SOURCE);
    const have = await Deno.readTextFile(STAMP).catch(() => "");
    const exists = await Deno.stat(CALLBENCH).then((s) => s.isFile, () => false);
    if (exists && have.trim() === want) return CALLBENCH;
    await Deno.mkdir(CACHE, { recursive: true });
    let out;
    try {
      out = await new Deno.Command("gcc", {
        args: ["-O2", "-Wall", "-o", CALLBENCH, SOURCE],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(60_000),
      }).output();
    } catch (err) {
      throw new Error(
        `gcc could not run (${
          (err as Error).message
        }): apt-get install -y gcc (Debian) to build the C client`,
      );
    }
    if (!out.success) {
      throw new Error(`gcc failed to build ${SOURCE}:\n${new TextDecoder().decode(out.stderr)}`);
    }
    await Deno.writeTextFile(STAMP, `${want}\n`);
    return CALLBENCH;
  })();
}

/** The client's report of one run. */
export interface CallbenchResult {
  calls: number;
  seconds: number;
  calls_per_s: number;
  client_cpu_s: number;
}

/** Runs the client once for `window` (warm-up, then counted time); resolves to its report. */
export async function runCallbench(load: Load, window: Window): Promise<CallbenchResult> {
  const bin = await buildCallbench();
  const args = [
    "--socket",
    load.socket,
    "--request",
    load.request,
    "--end",
    load.end,
    "--expect",
    load.expect,
    "--conns",
    String(load.conns),
    "--depth",
    String(load.depth),
    "--warmup-ms",
    String(window.warmupMs),
    "--duration-ms",
    String(window.durationMs),
    "--timeout-ms",
    "5000",
    ...(load.preface === undefined ? [] : ["--preface", load.preface]),
  ];
  const out = await new Deno.Command(bin, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // The client's own deadline is 5 s without an answer; this bounds it once more.
    signal: AbortSignal.timeout(window.warmupMs + window.durationMs + 15_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  let report: Partial<CallbenchResult> & { error?: string };
  try {
    report = JSON.parse(text.split("\n").pop() ?? "");
  } catch {
    throw new Error(`callbench printed ${JSON.stringify(text)} (exit ${out.code})`);
  }
  if (!out.success || report.error !== undefined || typeof report.calls_per_s !== "number") {
    throw new Error(`callbench on ${load.socket}: ${report.error ?? text} (exit ${out.code})`);
  }
  return report as CallbenchResult;
}

/** Calls/s of one run. */
export async function callsPerSecond(load: Load, window: Window): Promise<number> {
  return (await runCallbench(load, window)).calls_per_s;
}
