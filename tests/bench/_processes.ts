/**
 * Subprocesses and temp directories of the benchmark suite, all owned by a
 * {@linkcode Scope} that kills and removes them on dispose, even on failure.
 *
 * @module
 */
import { sleep } from "./_stats.ts";

/** The repository root. */
export const ROOT: string = new URL("../..", import.meta.url).pathname;
/** The deno binary (the bench permission set allows running it by name). */
export const DENO = "deno";
/** The node binary, for the JSON-lines peer. */
export const NODE = "node";

/** Owns cleanups; disposing runs them newest first and never throws. */
export class Scope implements AsyncDisposable {
  #cleanups: (() => unknown)[] = [];

  /** Runs `fn` on dispose. */
  defer(fn: () => unknown): void {
    this.#cleanups.push(fn);
  }

  /** A fresh temp directory, removed on dispose. */
  async tempDir(prefix = "sockd-bench-"): Promise<string> {
    const dir = await Deno.makeTempDir({ prefix });
    this.defer(() => Deno.remove(dir, { recursive: true }));
    return dir;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    while (this.#cleanups.length > 0) {
      const fn = this.#cleanups.pop()!;
      try {
        await fn();
      } catch { /* best effort: keep cleaning */ }
    }
  }
}

/** A server subprocess. */
export interface ServerProc {
  /** What it is, for messages. */
  readonly name: string;
  /** The pid of the process itself (deno or node is spawned directly, not via a shell). */
  readonly pid: number;
  /** The last 64 KiB it wrote to stderr. */
  stderr(): string;
  /** Stops it (SIGTERM, then SIGKILL after `graceMs`) and waits for it to exit. */
  stop(graceMs?: number): Promise<void>;
}

/** Options of {@linkcode spawnServer}. */
export interface SpawnOptions {
  /** Binary to run: {@linkcode DENO} or {@linkcode NODE}. */
  cmd: string;
  args: string[];
  /** Socket paths to wait for before resolving. */
  sockets: string[];
  cwd?: string;
  /** How long to wait for the sockets. @default {20000} */
  timeoutMs?: number;
}

const STDERR_KEEP = 64 * 1024;

/**
 * Spawns a server and waits until each of its sockets accepts connections.
 * The scope kills it on dispose.
 */
export async function spawnServer(scope: Scope, name: string, options: SpawnOptions): Promise<ServerProc> {
  const child = new Deno.Command(options.cmd, {
    args: options.args,
    cwd: options.cwd ?? ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let err = "";
  const decoder = new TextDecoder();
  const drained = (async () => {
    for await (const chunk of child.stderr) {
      err += decoder.decode(chunk, { stream: true });
      if (err.length > 2 * STDERR_KEEP) err = err.slice(-STDERR_KEEP);
    }
  })().catch(() => {});
  let exited: number | undefined;
  const status = child.status.then((s) => exited = s.code);
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 3000) =>
    stopping ??= (async () => {
      if (exited === undefined) {
        try {
          child.kill("SIGTERM");
        } catch { /* exited meanwhile */ }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* exited meanwhile */ }
        }, graceMs);
        await status;
        clearTimeout(timer);
      }
      await drained;
    })();
  scope.defer(() => stop(1000));
  const proc: ServerProc = { name, pid: child.pid, stderr: () => err.slice(-STDERR_KEEP), stop };

  const end = Date.now() + (options.timeoutMs ?? 20_000);
  for (const path of options.sockets) {
    while (true) {
      if (exited !== undefined) {
        await drained;
        throw new Error(`${name} exited with code ${exited} before listening:\n${err}`);
      }
      if (await accepts(path)) break;
      if (Date.now() > end) throw new Error(`${name} did not listen on ${path} in time:\n${err}`);
      await sleep(20);
    }
  }
  return proc;
}

async function accepts(path: string): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Runs a command to completion and returns its wall time in ms (throws on a non-zero exit). */
export async function timeRun(cmd: string, args: string[], cwd = ROOT): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(cmd, { args, cwd, stdin: "null", stdout: "piped", stderr: "piped" })
    .output();
  const ms = performance.now() - t0;
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} exited with ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return ms;
}

/** Runs a command to completion and returns its stdout (throws on a non-zero exit). */
export async function runOutput(cmd: string, args: string[], cwd = ROOT): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdin: "null", stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  if (!out.success) throw new Error(`${cmd} exited with ${out.code}: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}
