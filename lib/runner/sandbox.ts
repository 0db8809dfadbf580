/**
 * Runs a plugin file in its own Deno Worker, with only the permissions the
 * operator granted it (default: none, not even `import`).
 *
 * One worker per plugin version. A call that does not stop within
 * `graceMs` after its deadline (or cancel) gets its worker terminated and
 * restarted; the other calls in that worker end with 105. A crash (uncaught
 * error, `self.close()`, `Deno.exit()`) ends the worker's calls with 105 and
 * restarts it. The server never waits on a worker.
 *
 * Deno 2.9 cannot stop a worker that is stuck in synchronous code
 * (`while (true) {}`): `terminate()` returns, the worker is gone for sockd,
 * but its thread keeps a CPU busy until the process exits. The sandbox tells
 * such a "stuck" worker from a responsive one (it answers pings during the
 * grace period) and disables a plugin version after `maxStuckWorkers` of them,
 * so a bad plugin cannot eat every CPU.
 *
 * @module
 */
import { basename } from "node:path";
import { pathToFileURL } from "node:url";
import type { Chunk, Command, Context, PluginGrants } from "../command.ts";
import { SockdError, Status, toSockdError } from "../errors.ts";
import { LOG_LEVELS, type Logger } from "../log.ts";
import {
  type CommandMeta,
  type HostMessage,
  toWireError,
  type ViewSnapshot,
  type WireError,
  type WorkerMessage,
} from "./_protocol.ts";
import { grantsNotHeld, permissionHint, workerPermissions } from "./grants.ts";
import type { Runner, RunnerCall } from "./runner.ts";
import type { PluginState, StateListener } from "./state.ts";

/** Bounds and deadlines of sandbox workers. */
export interface SandboxOptions {
  /**
   * Time a call has to stop after its deadline or cancel before its worker
   * is terminated and restarted, in ms.
   * @default {2000}
   */
  graceMs: number;
  /**
   * Time a plugin file has to load in a new worker, in ms.
   * @default {10000}
   */
  loadTimeoutMs: number;
  /**
   * Chunks a worker may send ahead of the client reading them, per call.
   * @default {16}
   */
  chunkCredit: number;
  /**
   * Keys one plugin's state may hold.
   * @default {10000}
   */
  maxStateEntries: number;
  /**
   * Workers of one plugin version that may get stuck in synchronous code
   * before the version is disabled (Deno cannot stop them; see the module doc).
   * @default {2}
   */
  maxStuckWorkers: number;
  /**
   * Log lines a worker may send per second; more are counted and dropped.
   * @default {200}
   */
  logsPerSecond: number;
}

/** The defaults of {@linkcode SandboxOptions}. */
export const DEFAULT_SANDBOX_OPTIONS: Readonly<SandboxOptions> = Object.freeze({
  graceMs: 2000,
  loadTimeoutMs: 10_000,
  chunkCredit: 16,
  maxStateEntries: 10_000,
  maxStuckWorkers: 2,
  logsPerSecond: 200,
});

/** What a sandbox is built from. */
export interface SandboxSpec {
  /** Absolute path of the plugin file. */
  file: string;
  /** What the operator granted it. */
  grants: PluginGrants;
  /** Where the grants come from (named in permission errors). */
  configFile: string;
  /** The plugin's state, kept across reloads by the caller. */
  state: PluginState;
  /** What the plugin sees of the server; read when a worker starts. */
  view: () => ViewSnapshot;
  logger: Logger;
  options: SandboxOptions;
}

/** A plugin file that could not be loaded in a worker; the message says why. */
export class PluginLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PluginLoadError";
  }
}

const HARNESS = new URL("./_worker_main.ts", import.meta.url).href;

type End = { ok: true; result: unknown } | { ok: false; error: SockdError };

/** The abort reason of a call whose consumer stopped without cancelling. */
const CALL_ENDED = new SockdError(Status.CANCELLED, "Call ended");

/**
 * One call as the server tracks it: its chunks (a bounded queue) and its
 * end, pulled by the dispatcher as an async iterator. No generator and no
 * promise per call beyond the pull that waits.
 */
class RemoteCall implements RunnerCall {
  id = 0;
  readonly command: string;
  readonly ctx: Context;
  isSettled = false;
  reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  reading = false;
  graceTimer: ReturnType<typeof setTimeout> | undefined;
  #owner: Sandbox;
  #worker: PluginWorker | undefined;
  #queue: Chunk[] | undefined;
  #end: End | undefined;
  #pending:
    | { resolve: (r: IteratorResult<Chunk, unknown>) => void; reject: (e: unknown) => void }
    | undefined;
  #settledWaiters: (() => void)[] | undefined;
  /** A chunk was handed out: it counts as consumed when the next one is asked for. */
  #handedOut = false;
  #consumed = 0;
  #ackEvery: number;
  /** The consumer is done (it took the end, or returned early). */
  #consumerDone = false;
  #released = false;
  #aborted: { reason: unknown } | undefined;

  constructor(owner: Sandbox, command: string, ctx: Context, ackEvery: number) {
    this.#owner = owner;
    this.command = command;
    this.ctx = ctx;
    this.#ackEvery = ackEvery;
  }

  get queued(): number {
    return this.#queue?.length ?? 0;
  }

  /** Runs on `worker` from now on. */
  attach(worker: PluginWorker) {
    this.#worker = worker;
  }

  /** Resolves once the call has settled (its end came, or its worker died). */
  settled(): Promise<void> {
    if (this.isSettled) return Promise.resolve();
    return new Promise((r) => (this.#settledWaiters ??= []).push(r));
  }

  push(chunk: Chunk) {
    const pending = this.#pending;
    if (pending) {
      this.#pending = undefined;
      this.#handedOut = true;
      pending.resolve({ done: false, value: chunk });
      return;
    }
    (this.#queue ??= []).push(chunk);
  }

  finish(end: End) {
    if (this.isSettled) return;
    this.isSettled = true;
    this.#end = end;
    clearTimeout(this.graceTimer);
    if (this.reader) {
      try {
        this.reader.releaseLock();
      } catch { /* released */ }
    }
    const waiters = this.#settledWaiters;
    this.#settledWaiters = undefined;
    if (waiters) { for (const w of waiters) w(); }
    const pending = this.#pending;
    if (pending && !this.#queue?.length) {
      this.#pending = undefined;
      this.#deliverEnd(pending.resolve, pending.reject);
    }
    this.#release();
  }

  next(): Promise<IteratorResult<Chunk, unknown>> {
    if (this.#handedOut) {
      this.#handedOut = false;
      if (++this.#consumed >= this.#ackEvery && !this.isSettled && this.#worker) {
        this.#worker.post({ type: "ack", id: this.id, n: this.#consumed });
        this.#consumed = 0;
      }
    }
    const queue = this.#queue;
    if (queue && queue.length > 0) {
      this.#handedOut = true;
      return Promise.resolve({ done: false, value: queue.shift()! });
    }
    if (this.#end) return new Promise((resolve, reject) => this.#deliverEnd(resolve, reject));
    return new Promise((resolve, reject) => this.#pending = { resolve, reject });
  }

  /** The consumer stops early (cancel, disconnect, deadline): tell the worker, unless the call is over. */
  return(): Promise<IteratorResult<Chunk, unknown>> {
    if (!this.#consumerDone) {
      this.#consumerDone = true;
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.resolve({ done: true, value: undefined });
      if (!this.isSettled) this.abort(this.ctx.signal.aborted ? this.ctx.signal.reason : CALL_ENDED);
      this.#release();
    }
    return Promise.resolve({ done: true, value: undefined });
  }

  /** Stops the call with `reason`: the worker is asked to, and terminated if it does not in time. */
  abort(reason: unknown): void {
    if (this.isSettled) return;
    this.#aborted ??= { reason };
    if (this.#worker) this.#owner._cancel(this.#worker, this, reason);
  }

  /** Why the call was stopped before it started on a worker, if it was. */
  get abortedWith(): { reason: unknown } | undefined {
    return this.#aborted;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #deliverEnd(resolve: (r: IteratorResult<Chunk, unknown>) => void, reject: (e: unknown) => void) {
    const end = this.#end!;
    this.#consumerDone = true;
    this.#release();
    if (end.ok) resolve({ done: true, value: end.result });
    else reject(end.error);
  }

  /** The call counts as active until it has settled and its consumer is done. */
  #release() {
    if (this.#released || !this.isSettled || !this.#consumerDone) return;
    this.#released = true;
    this.#owner._released();
  }
}

/** One live worker and the calls running in it. */
class PluginWorker {
  readonly worker: Worker;
  readonly calls = new Map<number, RemoteCall>();
  dead: SockdError | undefined;
  lastPong = 0;
  inGrace = 0;
  memoryBytes = 0;
  unsubscribe: () => void = () => {};
  #nextId = 1;
  #ping = 0;
  #heartbeat: ReturnType<typeof setInterval> | undefined;

  constructor(worker: Worker) {
    this.worker = worker;
  }

  post(msg: HostMessage) {
    if (this.dead) return;
    try {
      this.worker.postMessage(msg);
    } catch { /* a value the worker cannot receive: the call's end reports it */ }
  }

  nextId(): number {
    return this.#nextId++;
  }

  /** Pings the worker every `everyMs` while a call is in its grace period. */
  startHeartbeat(everyMs: number) {
    this.inGrace++;
    this.post({ type: "ping", n: ++this.#ping });
    this.#heartbeat ??= setInterval(() => this.post({ type: "ping", n: ++this.#ping }), everyMs);
  }

  stopHeartbeat() {
    this.inGrace = Math.max(0, this.inGrace - 1);
    if (this.inGrace === 0) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }

  kill(reason: SockdError) {
    if (this.dead) return;
    this.dead = reason;
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.unsubscribe();
    this.worker.terminate();
    for (const call of this.calls.values()) {
      call.finish({
        ok: false,
        error: call.ctx.signal.aborted ? toSockdError(call.ctx.signal.reason, Status.CANCELLED) : reason,
      });
    }
    this.calls.clear();
  }
}

/**
 * One loaded version of one plugin file, running in a worker: a
 * {@linkcode Runner} for the dispatcher.
 */
export class Sandbox implements Runner {
  readonly kind = "sandbox" as const;
  /** The plugin's commands, as its worker reported them. */
  readonly commands: readonly CommandMeta[];
  #spec: SandboxSpec;
  #name: string;
  #worker: PluginWorker | undefined;
  #starting: Promise<PluginWorker> | undefined;
  #retired = new AbortController();
  #closed = false;
  #active = 0;
  #restarts = 0;
  #stuck = 0;
  #disabled: string | undefined;

  private constructor(spec: SandboxSpec, first: PluginWorker, commands: CommandMeta[]) {
    this.#spec = spec;
    this.#name = basename(spec.file);
    this.#worker = first;
    this.commands = commands;
  }

  /**
   * Starts a worker for `spec.file` and waits until the plugin has loaded.
   * Rejects with a {@linkcode PluginLoadError} saying why it did not.
   */
  static async load(spec: SandboxSpec): Promise<Sandbox> {
    const ref: { sandbox?: Sandbox } = {};
    const { worker, commands } = await spawn(spec, () => ref.sandbox);
    ref.sandbox = new Sandbox(spec, worker, commands);
    return ref.sandbox;
  }

  /** Aborted once a reload replaced this version. */
  get retired(): AbortSignal {
    return this.#retired.signal;
  }

  /** Calls in flight (including cancelled ones whose code has not yet stopped). */
  get calls(): number {
    return this.#active;
  }

  /** Times this version's worker was restarted. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Resident memory the current worker added when it started, in bytes. */
  get memoryBytes(): number | undefined {
    return this.#worker?.memoryBytes;
  }

  /** Why this version no longer takes calls, if it does not. */
  get disabled(): string | undefined {
    return this.#disabled;
  }

  /** Whether the version has been retired or closed and has no call left. */
  get finished(): boolean {
    return (this.#retired.signal.aborted || this.#closed) && this.#active === 0;
  }

  /** Commands as the registry holds them: definitions whose `run` lives in the worker. */
  toCommands(): Command[] {
    return this.commands.map((m) => ({
      ...m,
      run: () => {
        throw new SockdError(Status.HANDLER_ERROR, `Command "${m.name}" runs in its plugin's sandbox worker`);
      },
    }));
  }

  run(command: string, ctx: Context): RunnerCall {
    // Counted at once, so a retiring version cannot stop under a call.
    this.#active++;
    const ackEvery = Math.max(1, Math.floor(this.#spec.options.chunkCredit / 4));
    const call = new RemoteCall(this, command, ctx, ackEvery);
    if (this.#disabled) {
      call.finish({ ok: false, error: new SockdError(Status.HANDLER_ERROR, this.#disabled) });
      return call;
    }
    const current = this.#worker;
    if (current && !current.dead) {
      this.#start(current, call);
    } else {
      this.#ready(ctx.signal).then(
        (worker) => this.#start(worker, call),
        (err) => call.finish({ ok: false, error: toSockdError(err, Status.CANCELLED) }),
      );
    }
    return call;
  }

  /** @internal a call has settled and its consumer is done. */
  _released(): void {
    this.#active--;
    this.#finishIfRetired();
  }

  /** @internal asks the worker to stop a call. */
  _cancel(worker: PluginWorker, call: RemoteCall, reason: unknown): void {
    this.#cancel(worker, call, reason);
  }

  /** Tells the current worker what commands the server now has. */
  updateView(): void {
    this.#worker?.post({ type: "view", view: this.#spec.view() });
  }

  /** Stops taking new work; the worker ends once the calls in flight have. */
  retire(): void {
    if (this.#retired.signal.aborted) return;
    this.#retired.abort(new SockdError(Status.CANCELLED, `Plugin ${this.#name} was reloaded`));
    this.#finishIfRetired();
  }

  /** Terminates the worker now; calls in flight end with 106. */
  close(): void {
    this.#closed = true;
    this.#retire();
    this.#worker?.kill(new SockdError(Status.CANCELLED, "Server is shutting down"));
    this.#worker = undefined;
  }

  #retire() {
    if (!this.#retired.signal.aborted) this.#retired.abort();
  }

  #finishIfRetired() {
    if (!this.finished || !this.#worker) return;
    this.#worker.kill(new SockdError(Status.CANCELLED, `Plugin ${this.#name} was reloaded`));
    this.#worker = undefined;
  }

  async #ready(signal: AbortSignal): Promise<PluginWorker> {
    const current = this.#worker;
    if (current && !current.dead) return current;
    this.#starting ??= spawn(this.#spec, () => this)
      .then(({ worker }) => {
        if (this.#closed || this.finished) {
          // Closed, or retired with no call left while it started: not needed.
          worker.kill(new SockdError(Status.CANCELLED, `Plugin ${this.#name} was reloaded`));
        } else {
          this.#worker = worker;
        }
        return worker;
      })
      .catch((err) => {
        throw new SockdError(
          Status.HANDLER_ERROR,
          `Plugin ${this.#name} could not restart its worker: ${(err as Error).message}`,
        );
      })
      .finally(() => this.#starting = undefined);
    const starting = this.#starting;
    starting.catch(() => {});
    return await raceAbort(starting, signal);
  }

  #start(worker: PluginWorker, call: RemoteCall) {
    if (call.isSettled) return;
    if (worker.dead) {
      call.finish({ ok: false, error: worker.dead });
      return;
    }
    const ctx = call.ctx;
    call.id = worker.nextId();
    call.attach(worker);
    worker.calls.set(call.id, call);
    worker.post({
      type: "call",
      id: call.id,
      command: call.command,
      args: ctx.args,
      flags: ctx.flags,
      caller: ctx.caller,
      credit: this.#spec.options.chunkCredit,
    });
    // Stopped while waiting for a worker: tell it at once.
    if (call.abortedWith) this.#cancel(worker, call, call.abortedWith.reason);
  }

  /** Asks the worker to stop a call; terminates the worker if it has not within the grace period. */
  #cancel(worker: PluginWorker, call: RemoteCall, reason: unknown) {
    if (call.isSettled || call.graceTimer !== undefined) return;
    const { graceMs } = this.#spec.options;
    worker.post({ type: "cancel", id: call.id, reason: toWireError(toSockdError(reason, Status.CANCELLED)) });
    const every = Math.max(25, Math.floor(graceMs / 4));
    worker.startHeartbeat(every);
    call.settled().then(() => worker.stopHeartbeat());
    const abortedAt = performance.now();
    call.graceTimer = setTimeout(() => {
      if (call.isSettled || worker.dead) return;
      // A worker that answered pings lately has a free event loop: terminate() stops it.
      const responsive = worker.lastPong >= abortedAt && performance.now() - worker.lastPong < 2 * every + 50;
      const why = toSockdError(reason, Status.CANCELLED);
      const what = why.status === Status.TIMEOUT ? "its deadline passed" : "it was cancelled";
      const fields = { file: this.#spec.file, command: call.command, graceMs };
      if (responsive) {
        this.#spec.logger.warn("Plugin worker terminated: a call did not stop in time", fields);
      } else {
        this.#stuck++;
        this.#spec.logger.error(
          "Plugin worker stuck in synchronous code: terminated, but Deno cannot stop a running loop " +
            "in a worker, so its thread keeps a CPU busy until sockd restarts",
          { ...fields, stuck: this.#stuck },
        );
        if (this.#stuck >= this.#spec.options.maxStuckWorkers) {
          this.#disabled = `Plugin ${this.#name} is disabled: its worker got stuck in synchronous code ` +
            `${this.#stuck} times (a busy loop?); fix it and reload`;
          this.#spec.logger.error("Plugin disabled", { file: this.#spec.file, error: this.#disabled });
        }
      }
      this.#died(
        worker,
        new SockdError(
          Status.HANDLER_ERROR,
          `Plugin worker of ${this.#name} was restarted: call "${call.command}" did not stop within ${graceMs} ms after ${what}`,
        ),
      );
    }, graceMs);
  }

  /** A worker crashed or was terminated: its calls end, and a new one starts. */
  #died(worker: PluginWorker, reason: SockdError) {
    if (worker.dead) return;
    worker.kill(reason);
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    this.#restarts++;
    if (this.#closed || this.#retired.signal.aborted || this.#disabled) return;
    this.#ready(new AbortController().signal).catch((err) =>
      this.#spec.logger.error("Plugin worker failed to restart", {
        file: this.#spec.file,
        error: (err as Error).message,
      })
    );
  }

  /** Handles a message from a running worker. */
  _onMessage(worker: PluginWorker, msg: WorkerMessage, listener: StateListener) {
    if (!msg || typeof msg !== "object") return;
    switch (msg.type) {
      case "chunk": {
        const call = worker.calls.get(msg.id);
        if (!call || call.isSettled) return;
        if (call.queued >= this.#spec.options.chunkCredit * 2) {
          call.finish({
            ok: false,
            error: new SockdError(Status.HANDLER_ERROR, "Plugin worker ignored backpressure"),
          });
          worker.calls.delete(msg.id);
          return;
        }
        call.push(msg.chunk);
        return;
      }
      case "end": {
        const call = worker.calls.get(msg.id);
        if (!call) return;
        worker.calls.delete(msg.id);
        call.finish(msg.ok ? { ok: true, result: msg.result } : { ok: false, error: this.#error(msg.error) });
        return;
      }
      case "pull": {
        const call = worker.calls.get(msg.id);
        if (call) this.#pull(worker, call);
        return;
      }
      case "state":
        this.#applyState(msg.op, listener);
        return;
      case "log": {
        if (!(LOG_LEVELS as readonly string[]).includes(msg.level)) return;
        const call = msg.id === undefined ? undefined : worker.calls.get(msg.id);
        const fields = msg.fields && typeof msg.fields === "object" ? msg.fields : {};
        const log = call?.ctx.log ?? this.#spec.logger;
        log[msg.level](String(msg.msg), { ...fields, plugin: this.#name });
        return;
      }
      case "crash":
        this.#spec.logger.error("Plugin worker crashed", {
          file: this.#spec.file,
          error: msg.error?.message,
        });
        this.#died(
          worker,
          new SockdError(Status.HANDLER_ERROR, `Plugin worker crashed: ${this.#message(msg.error)}`),
        );
        return;
      case "pong":
        worker.lastPong = performance.now();
        return;
    }
  }

  /** A worker's error event after it loaded: an uncaught error the harness did not catch. */
  _onError(worker: PluginWorker, message: string) {
    this.#spec.logger.error("Plugin worker crashed", { file: this.#spec.file, error: message });
    this.#died(worker, new SockdError(Status.HANDLER_ERROR, `Plugin worker crashed: ${message}`));
  }

  #applyState(op: unknown, listener: StateListener) {
    const o = op as { op?: unknown; key?: unknown; value?: unknown };
    const state = this.#spec.state;
    if (o?.op === "clear") return state.apply({ op: "clear" }, listener);
    if (typeof o?.key !== "string") return;
    if (o.op === "delete") return state.apply({ op: "delete", key: o.key }, listener);
    if (o.op !== "set") return;
    if (!state.map.has(o.key) && state.map.size >= this.#spec.options.maxStateEntries) return;
    state.apply({ op: "set", key: o.key, value: o.value }, listener);
  }

  async #pull(worker: PluginWorker, call: RemoteCall) {
    if (call.reading) return;
    call.reading = true;
    let msg: HostMessage;
    try {
      call.reader ??= call.ctx.input.getReader();
      const { done, value } = await call.reader.read();
      msg = done ? { type: "input", id: call.id, done: true } : { type: "input", id: call.id, chunk: value };
    } catch {
      msg = { type: "input", id: call.id, done: true };
    } finally {
      call.reading = false;
    }
    if (!call.isSettled) worker.post(msg);
  }

  #message(err: WireError | undefined): string {
    if (!err) return "unknown error";
    const text = `${err.message}`;
    return permissionHint(text, this.#name, this.#spec.configFile) ?? text;
  }

  #error(err: WireError): SockdError {
    const hint = permissionHint(String(err?.message ?? ""), this.#name, this.#spec.configFile);
    if (hint) return new SockdError(Status.HANDLER_ERROR, hint);
    return toSockdError(err && typeof err.status === "number" ? err : new Error(String(err?.message ?? "")));
  }
}

/** Starts a worker for `spec` and waits for its plugin to load. */
async function spawn(
  spec: SandboxSpec,
  owner: () => Sandbox | undefined,
): Promise<{ worker: PluginWorker; commands: CommandMeta[] }> {
  const name = basename(spec.file);
  const missing = await grantsNotHeld(spec.grants);
  if (missing.length > 0) {
    const net = missing.some((m) => m.startsWith("net") || m === "all net");
    throw new PluginLoadError(
      `${spec.configFile} grants ${name} ${missing.join(", ")}, which this server does not hold ` +
        `(a plugin never gets more than the server)` +
        (net
          ? "; sockd serve drops the network permission at startup when no plugin is granted net: restart it"
          : ""),
    );
  }
  const source = `import { start } from ${JSON.stringify(HARNESS)};\n` +
    `import * as plugin from ${JSON.stringify(pathToFileURL(spec.file).href)};\n` +
    `start(plugin);\n`;
  // A data: URL, not a blob: one, so the same plugin file gives the same module
  // specifier each time (type-check and compile caches hit on a restart).
  const url = `data:application/javascript,${encodeURIComponent(source)}`;
  const rssBefore = Deno.memoryUsage().rss;
  let worker: Worker;
  try {
    worker = new Worker(url, {
      type: "module",
      name: `sockd plugin ${name}`,
      deno: { permissions: workerPermissions(spec.grants) },
    });
  } catch (err) {
    throw new PluginLoadError(`Cannot start a worker: ${(err as Error).message}`);
  }
  const handle = new PluginWorker(worker);
  const listener: StateListener = (op) => handle.post({ type: "state", op });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const commands = await new Promise<CommandMeta[]>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new PluginLoadError(`Did not load within ${spec.options.loadTimeoutMs} ms`)),
        spec.options.loadTimeoutMs,
      );
      worker.onmessage = (e: MessageEvent<WorkerMessage>) => {
        const msg = e.data;
        if (msg?.type === "loaded" && Array.isArray(msg.commands)) resolve(msg.commands);
        else if (msg?.type === "load-error") reject(new PluginLoadError(loadMessage(msg.error, name, spec)));
        else if (msg?.type === "crash") reject(new PluginLoadError(loadMessage(msg.error, name, spec)));
      };
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new PluginLoadError(loadMessage({ name: "Error", message: e.message }, name, spec)));
      };
      worker.onmessageerror = () => reject(new PluginLoadError("Sent a message that cannot be received"));
    });
    handle.memoryBytes = Math.max(0, Deno.memoryUsage().rss - rssBefore);
    worker.onmessage = (e: MessageEvent<WorkerMessage>) => owner()?._onMessage(handle, e.data, listener);
    worker.onerror = (e) => {
      e.preventDefault();
      owner()?._onError(handle, e.message);
    };
    worker.onmessageerror = () => {};
    handle.post({
      type: "init",
      state: spec.state.snapshot(),
      view: spec.view(),
      maxStateEntries: spec.options.maxStateEntries,
      logsPerSecond: spec.options.logsPerSecond,
    });
    handle.unsubscribe = spec.state.subscribe(listener);
    return { worker: handle, commands };
  } catch (err) {
    handle.kill(new SockdError(Status.HANDLER_ERROR, "Plugin failed to load"));
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

const PREFIX_RE = /^(Uncaught )?(\(in promise\) )?((\w*Error|NotCapable|PermissionDenied): )?/;

/** A load failure in one line: the error without runtime prefixes, a permission hint if any. */
function loadMessage(err: WireError | undefined, name: string, spec: SandboxSpec): string {
  const raw = String(err?.message ?? "unknown error");
  const lines = raw.split("\n").map((l) => l.trim()).filter((l) => l && !/^[|~^\d ]+(\|.*)?$/.test(l));
  const first = lines[0] ?? raw;
  const bare = first.replace(PREFIX_RE, "");
  const hint = permissionHint(bare, name, spec.configFile);
  if (hint) return hint;
  const at = lines.find((l) => l.startsWith("at "));
  const kind = err?.name && err.name !== "Error" && !first.includes(err.name) ? `${err.name}: ` : "";
  return `${kind}${first.replace(/^Uncaught (\(in promise\) )?/, "")}${at ? ` (${at})` : ""}`;
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
