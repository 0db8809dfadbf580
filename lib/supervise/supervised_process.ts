/**
 * One supervised child: one loop that starts it, waits for it, and decides
 * what comes next by its restart policy, as runit's `runsv` does for one
 * service. States are explicit (see {@linkcode ProcessState}); every change
 * is reported through `onEvent`.
 *
 * The child is started `detached`: it leads a session and process group of
 * its own, so a stop reaches everything it forked, and a Ctrl-C at the
 * server's terminal does not reach it. Its exit is always awaited (no
 * zombies); its output is read at the pipe's pace into bounded rings.
 *
 * @module
 */
import type { ProcessSpec } from "./config.ts";
import { LogRing } from "./log_ring.ts";
import { sessionMembers, signalGroup } from "./_process_group.ts";
import type { ProcessEvent, ProcessInfo, ProcessState } from "./types.ts";

/** How long to wait for the group to go after SIGKILL before giving up. */
const KILL_GRACE_MS = 5000;
const POLL_MS = 25;
/** One read of a child's pipe. */
const READ_BYTES = 64 * 1024;

/** The wait before restart number `failures` (0 after a good run): doubling, capped. */
export function backoffDelay(
  spec: Pick<ProcessSpec, "backoffMs" | "backoffMaxMs">,
  failures: number,
): number {
  return Math.min(spec.backoffMaxMs, spec.backoffMs * 2 ** Math.max(0, failures - 1));
}

/**
 * A child process kept running by its restart policy.
 *
 * @example
 * ```ts
 * import { parseSuperviseConfig } from "./config.ts";
 * import { SupervisedProcess } from "./supervised_process.ts";
 * const [spec] = parseSuperviseConfig({
 *   processes: { hello: { command: "sh", args: ["-c", "echo hello"], restart: "never", minUptimeMs: 0 } },
 * }, "/tmp/x.json").processes;
 * const states: string[] = [];
 * const p = new SupervisedProcess(spec!, { onEvent: (e) => states.push(e.state) });
 * await p.start();
 * await p.settled();
 * console.assert(p.stdout.tail(1) === "hello\n" && states.at(-1) === "exited");
 * ```
 */
export class SupervisedProcess {
  readonly spec: ProcessSpec;
  readonly stdout: LogRing;
  readonly stderr: LogRing;
  #onEvent: (e: ProcessEvent) => void;
  #state: ProcessState = "stopped";
  #since = Date.now();
  #want: "up" | "down" = "down";
  #loop: Promise<void> | undefined;
  #child: Deno.ChildProcess | undefined;
  #startedAt = 0;
  #failures = 0;
  #restarts = 0;
  #exit: { code?: number; signal?: string } = {};
  #error: string | undefined;
  #wake: (() => void) | undefined;
  #stopping: Promise<void> | undefined;
  #spawned: (() => void) | undefined;
  #readers = new Set<ReadableStreamBYOBReader>();

  constructor(spec: ProcessSpec, options: { onEvent: (e: ProcessEvent) => void }) {
    this.spec = spec;
    this.stdout = new LogRing(spec.logBytes);
    this.stderr = new LogRing(spec.logBytes);
    this.#onEvent = options.onEvent;
  }

  get state(): ProcessState {
    return this.#state;
  }

  /** The running child's pid (its group and session id too). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  info(): ProcessInfo {
    const info: ProcessInfo = {
      name: this.spec.name,
      state: this.#state,
      restarts: this.#restarts,
      command: [this.spec.command, ...this.spec.args],
      since: new Date(this.#since).toISOString(),
    };
    if (this.#child) {
      info.pid = this.#child.pid;
      info.uptimeMs = Date.now() - this.#startedAt;
    }
    if (this.#exit.code !== undefined) info.exitCode = this.#exit.code;
    if (this.#exit.signal !== undefined) info.exitSignal = this.#exit.signal;
    if (this.#error !== undefined) info.error = this.#error;
    return info;
  }

  /**
   * Starts the process unless it is up (running, starting, or waiting to
   * restart); a `fatal` or `exited` process starts afresh. Resolves once it
   * has been spawned (or its first spawn failed).
   */
  async start(): Promise<void> {
    // A stop under way finishes first: one loop per child, never two.
    while (this.#stopping) await this.#stopping;
    if (this.#want === "up" && this.#loop) return;
    this.#want = "up";
    this.#failures = 0;
    this.#error = undefined;
    const spawned = new Promise<void>((r) => this.#spawned = r);
    const loop: Promise<void> = this.#run().finally(() => {
      if (this.#loop === loop) this.#loop = undefined;
    });
    this.#loop = loop;
    await spawned;
  }

  /** Resolves when the loop has ended (the process stopped, exited or turned fatal). */
  async settled(): Promise<void> {
    await this.#loop;
  }

  /**
   * Stops the process: its stop signal to the whole group, then SIGKILL to
   * the group after `stopTimeoutMs`. Resolves once no process of the group
   * is left.
   */
  stop(): Promise<void> {
    this.#want = "down";
    this.#wake?.();
    this.#stopping ??= this.#stop().finally(() => this.#stopping = undefined);
    return this.#stopping;
  }

  /** Sends `signal` to the main process, or to its whole group. */
  async signal(signal: Deno.Signal, group = false): Promise<void> {
    const child = this.#child;
    if (!child) throw new Error(`Process "${this.spec.name}" is not running (${this.#state})`);
    if (group) await signalGroup(child.pid, signal);
    else child.kill(signal);
  }

  /** Leaves the child running on its own: stops reading its output and watching it. */
  abandon(): void {
    this.#want = "down";
    this.#wake?.();
    this.#child?.unref();
    for (const r of this.#readers) r.cancel().catch(() => {});
    this.stdout.close();
    this.stderr.close();
  }

  /** Ends followers of its logs (the process is removed). */
  close(): void {
    this.stdout.close();
    this.stderr.close();
  }

  async #stop() {
    const child = this.#child;
    if (child) {
      this.#set("stopping", { pid: child.pid });
      const pgid = child.pid;
      await signalGroup(pgid, this.spec.stopSignal);
      const deadline = Date.now() + this.spec.stopTimeoutMs;
      if (!await this.#groupGone(child, deadline)) {
        await signalGroup(pgid, "SIGKILL");
        if (!await this.#groupGone(child, Date.now() + KILL_GRACE_MS)) {
          this.#error = `Process group ${pgid} survived SIGKILL for ${KILL_GRACE_MS} ms`;
        }
      }
    }
    await this.#loop;
    const final = this.#state === "fatal" || this.#state === "exited" || this.#state === "stopped";
    if (this.#want === "down" && !final) this.#set("stopped");
  }

  /** Waits until the child has exited and no other process of its group is alive. */
  async #groupGone(child: Deno.ChildProcess, deadline: number): Promise<boolean> {
    const left = deadline - Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      child.status.then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), Math.max(0, left))),
    ]);
    clearTimeout(timer);
    if (!exited) return false;
    while (true) {
      if ((await sessionMembers(child.pid)).length === 0) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  async #run() {
    while (this.#want === "up") {
      const startedAt = Date.now();
      const exit = await this.#once();
      if (this.#want !== "up") return;
      const good = Date.now() - startedAt >= this.spec.minUptimeMs && exit.spawned;
      const failed = !exit.spawned || exit.code !== 0;
      const policy = this.spec.restart;
      if (policy === "never" || (policy === "on-failure" && !failed)) {
        this.#want = "down";
        this.#set("exited");
        return;
      }
      this.#failures = good ? 0 : this.#failures + 1;
      if (this.#failures > this.spec.maxRestarts) {
        this.#want = "down";
        this.#error =
          `Failed to stay up ${this.#failures} times in a row (less than ${this.spec.minUptimeMs} ms each)` +
          (this.#error ? `: ${this.#error}` : "");
        this.#set("fatal");
        return;
      }
      const delayMs = backoffDelay(this.spec, this.#failures);
      this.#set("backoff", { delayMs });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      if (this.#want !== "up") return;
      this.#restarts++;
    }
  }

  /** One run of the child: spawn, watch it become `running`, wait for its exit. */
  async #once(): Promise<{ spawned: boolean; code?: number }> {
    const spec = this.spec;
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(spec.command, {
        args: spec.args,
        cwd: spec.cwd,
        env: spec.env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true,
      }).spawn();
    } catch (err) {
      this.#error = `Cannot start ${JSON.stringify(spec.command)}: ${(err as Error).message}`;
      this.#exit = {};
      this.#spawned?.();
      this.#spawned = undefined;
      return { spawned: false };
    }
    this.#child = child;
    this.#startedAt = Date.now();
    this.#error = undefined;
    this.#set("starting", { pid: child.pid });
    this.#spawned?.();
    this.#spawned = undefined;
    // The pipes are read for as long as anything holds them open, which may outlive the child.
    this.#pump(child.stdout, this.stdout);
    this.#pump(child.stderr, this.stderr);
    const up = () => {
      if (this.#child === child && this.#state === "starting") this.#set("running", { pid: child.pid });
    };
    const timer = spec.minUptimeMs > 0 ? setTimeout(up, spec.minUptimeMs) : (up(), undefined);
    const status = await child.status;
    clearTimeout(timer);
    this.#child = undefined;
    this.#exit = status.signal ? { signal: status.signal } : { code: status.code };
    // Whatever it forked and left behind goes with it, so a restart starts clean.
    if (this.#want === "up" && (await sessionMembers(child.pid)).length > 0) {
      await signalGroup(child.pid, "SIGKILL");
    }
    return { spawned: true, code: status.signal ? undefined : status.code };
  }

  #set(state: ProcessState, extra: { pid?: number; delayMs?: number } = {}) {
    const from = this.#state;
    this.#state = state;
    this.#since = Date.now();
    const event: ProcessEvent = {
      time: new Date(this.#since).toISOString(),
      name: this.spec.name,
      from,
      state,
      restarts: this.#restarts,
      ...extra,
    };
    if (state === "backoff" || state === "exited" || state === "fatal" || state === "stopped") {
      if (this.#exit.code !== undefined) event.exitCode = this.#exit.code;
      if (this.#exit.signal !== undefined) event.exitSignal = this.#exit.signal;
    }
    if (this.#error !== undefined && state !== "starting" && state !== "running") event.error = this.#error;
    this.#onEvent(event);
  }

  /**
   * Copies a pipe into a ring, one read at a time into one reused buffer: the
   * child writes no faster than this reads, and a flood allocates nothing.
   */
  async #pump(stream: ReadableStream<Uint8Array>, ring: LogRing) {
    const reader = stream.getReader({ mode: "byob" });
    this.#readers.add(reader);
    let buffer = new ArrayBuffer(READ_BYTES);
    try {
      while (true) {
        const { done, value } = await reader.read(new Uint8Array(buffer));
        if (done || !value) return;
        ring.write(value);
        buffer = value.buffer as ArrayBuffer;
      }
    } catch {
      // Cancelled (abandon), or the pipe broke: nobody holds it any more.
    } finally {
      this.#readers.delete(reader);
    }
  }
}
