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
): Promise<ServerProcess> {
  const process = new Deno.Command(DENO, {
    args: [...SOCKD_ARGS, "serve", "--socket", path, ...args],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let err = "";
  const decoder = new TextDecoder();
  const drained = (async () => {
    for await (const chunk of process.stderr) err += decoder.decode(chunk, { stream: true });
  })();
  let exited: number | undefined;
  const status = process.status.then((s) => exited = s.code);
  try {
    await waitFor(
      async () => {
        if (exited !== undefined) throw new Error(`sockd serve exited with ${exited}:\n${err}`);
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
    stderr: () => err,
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
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(
      typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin,
    );
    await w.close();
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
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
