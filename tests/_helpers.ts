/**
 * Test helpers: temp-dir socket paths, and the server and CLI run as real
 * subprocesses exactly as `deno task sockd` runs them (same entry point,
 * same permission set).
 */
import { isLive } from "../lib/listener.ts";

/** The repository root. */
export const ROOT: string = new URL("..", import.meta.url).pathname;
/** The deno binary on PATH (the test permission set allows running it by name). */
export const DENO = "deno";
/** What `deno task sockd` runs, minus the subcommand. */
export const SOCKD_ARGS: readonly string[] = ["run", "-q", "-P=sockd", `${ROOT}main.ts`];

/** A fresh temp directory removed on dispose. */
export async function tempDir(): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "sockd-test-" });
  return {
    dir,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Waits until `check` is true, polling, or throws after `ms`. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 10_000, what = "condition") {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
}

/**
 * Collects what `child` writes to stderr as it comes: `text()` is all of it
 * so far; `drained` resolves once the pipe has closed.
 */
export function captureStderr(child: Deno.ChildProcess): { text: () => string; drained: Promise<void> } {
  let text = "";
  const decoder = new TextDecoder();
  const drained = (async () => {
    for await (const chunk of child.stderr) text += decoder.decode(chunk, { stream: true });
  })().catch(() => {});
  return { text: () => text, drained };
}

/** Everything a peer sends until it closes; a reset throws. Gives up (closes) after `ms`. */
export async function readToEnd(conn: Deno.Conn, ms = 5000): Promise<Uint8Array> {
  const parts: number[] = [];
  const buf = new Uint8Array(4096);
  const timer = setTimeout(() => conn.close(), ms);
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) return new Uint8Array(parts);
      parts.push(...buf.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
  }
}

/** A `sockd serve` subprocess. */
export interface ServerProcess extends AsyncDisposable {
  path: string;
  process: Deno.ChildProcess;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Sends a signal and waits for exit; returns the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/**
 * Starts `sockd serve --socket PATH ...args` and waits until the socket
 * accepts connections.
 */
export async function startServer(
  path: string,
  args: string[] = [],
  env: Record<string, string> = {},
  /** Deno flags added after the permission set, e.g. `--allow-run=...` for a supervisor. */
  denoFlags: string[] = [],
): Promise<ServerProcess> {
  const process = new Deno.Command(DENO, {
    args: [...SOCKD_ARGS.slice(0, -1), ...denoFlags, SOCKD_ARGS.at(-1)!, "serve", "--socket", path, ...args],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const { text: stderr, drained } = captureStderr(process);
  let exited: number | undefined;
  const status = process.status.then((s) => exited = s.code);
  try {
    await waitFor(
      async () => {
        if (exited !== undefined) throw new Error(`sockd serve exited with ${exited}:\n${stderr()}`);
        return await isLive(path).catch(() => false);
      },
      15_000,
      `sockd serve on ${path}`,
    );
  } catch (e) {
    try {
      process.kill("SIGKILL");
    } catch { /* gone */ }
    await status;
    await drained;
    throw e;
  }
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    if (exited === undefined) {
      try {
        process.kill(signal);
      } catch { /* exited meanwhile */ }
    }
    const code = await status;
    await drained;
    return code;
  };
  return {
    path,
    process,
    stderr,
    stop,
    async [Symbol.asyncDispose]() {
      await stop("SIGKILL");
    },
  };
}

/** What a CLI run printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  bytes: Uint8Array;
}

/** Runs `sockd ARGS...` as a subprocess, optionally with stdin, and collects its output. */
export async function runSockd(
  args: string[],
  options: { stdin?: string | Uint8Array; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const child = new Deno.Command(DENO, {
    args: [...SOCKD_ARGS, ...args],
    cwd: ROOT,
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // The deadline covers writing stdin too: a child that stops reading it must not hang the test.
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    try {
      await w.write(
        typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin,
      );
      await w.close();
    } catch { /* killed at the deadline: its exit code says so */ }
  }
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    bytes: out.stdout,
  };
}

/** A `sockd` CLI subprocess whose output can be watched while it runs. */
export interface SockdProcess extends AsyncDisposable {
  process: Deno.ChildProcess;
  /** Everything it wrote to stdout so far. */
  stdout(): string;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Waits until its stdout (or stderr) contains `text`, or throws after `ms`. */
  waitForOutput(
    text: string | RegExp,
    options?: { stream?: "stdout" | "stderr"; ms?: number },
  ): Promise<void>;
  /** Its exit code; kills it (SIGKILL) if it has not exited within `ms`. */
  exitCode(ms?: number): Promise<number>;
}

/**
 * Starts `sockd ARGS...` as `runSockd` does, but returns at once so a test
 * can watch its output and signal it (e.g. SIGINT while a call streams).
 * With `stdout: "manual"`, the test reads `process.stdout` itself.
 */
export function spawnSockd(
  args: string[],
  options: { env?: Record<string, string>; stdin?: "null" | "piped"; stdout?: "collect" | "manual" } = {},
): SockdProcess {
  const process = new Deno.Command(DENO, {
    args: [...SOCKD_ARGS, ...args],
    cwd: ROOT,
    env: options.env,
    stdin: options.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const text = { stdout: "", stderr: "" };
  const drain = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text[key] += decoder.decode(chunk, { stream: true });
  };
  const drained = Promise.all([
    options.stdout === "manual" ? Promise.resolve() : drain(process.stdout, "stdout"),
    drain(process.stderr, "stderr"),
  ]).catch(() => {});
  let code: number | undefined;
  const status = process.status.then((s) => code = s.code);
  const exitCode = async (ms = 15_000) => {
    const timer = setTimeout(() => {
      try {
        process.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
    }, ms);
    try {
      await status;
      await drained;
    } finally {
      clearTimeout(timer);
    }
    return code!;
  };
  return {
    process,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    async waitForOutput(wanted, { stream = "stdout", ms = 10_000 } = {}) {
      const has = () =>
        typeof wanted === "string" ? text[stream].includes(wanted) : wanted.test(text[stream]);
      try {
        await waitFor(
          () => {
            if (has()) return true;
            if (code !== undefined) throw new Error(`sockd exited with ${code} before printing ${wanted}`);
            return false;
          },
          ms,
          `${wanted} on ${stream}`,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}\nstdout: ${text.stdout}\nstderr: ${text.stderr}`);
      }
    },
    exitCode,
    async [Symbol.asyncDispose]() {
      await exitCode(0);
    },
  };
}
