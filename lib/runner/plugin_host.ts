/**
 * Runs a plugin file in its own host process (a {@linkcode Runner} for the
 * dispatcher): one host per loaded version, restarted with backoff when it
 * fails, disabled after repeated failures.
 *
 * The host is disposable and never trusted: every message it sends is
 * validated (`host_protocol.ts`), a call that does not stop within
 * `graceMs` after its deadline or cancel gets the host killed (SIGKILL, so
 * the CPU is free at once), its resident memory is capped, and its log
 * lines are stamped and rate-limited here. Plugin state lives in the server
 * and survives host restarts and reloads.
 *
 * @module
 */
import { basename, dirname } from "node:path";
import type { Command, Context, PluginGrants } from "../command.ts";
import { SockdError, Status, toSockdError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { permissionHint } from "./grants.ts";
import { HostLog } from "./host_log.ts";
import type { SandboxOptions } from "./host_options.ts";
import { HostProcess } from "./host_process.ts";
import {
  type CommandMeta,
  type FromHost,
  type StateOp,
  toWireError,
  type ViewSnapshot,
} from "./host_protocol.ts";
import { type CallOwner, RemoteCall } from "./remote_call.ts";
import type { Runner, RunnerCall } from "./runner.ts";
import type { PluginState, StateListener } from "./state.ts";
import { loadMessage, PluginLoadError } from "./load_error.ts";

export { PluginLoadError } from "./load_error.ts";

/** What a plugin host is built from. */
export interface PluginHostSpec {
  /** Absolute path of the plugin file. */
  file: string;
  /** What the operator granted it. */
  grants: PluginGrants;
  /** Where the grants come from (named in errors). */
  configFile: string;
  /** The plugin's state, kept across reloads by the caller. */
  state: PluginState;
  /** What the plugin sees of the server; read when a host starts. */
  view: () => ViewSnapshot;
  logger: Logger;
  options: SandboxOptions;
}

/** One live host process and the calls running in it. */
class LiveHost {
  readonly calls = new Map<number, RemoteCall>();
  proc!: HostProcess;
  dead: SockdError | undefined;
  /** Killed on purpose (reload, shutdown): not a failure. */
  expected = false;
  rss: number | undefined;
  memoryMiB = 0;
  unsubscribe: () => void = () => {};
  timer: ReturnType<typeof setInterval> | undefined;
  #nextId = 1;

  nextId(): number {
    return this.#nextId++;
  }
}

/** One loaded version of one plugin file, running in a host process. */
export class PluginHost implements Runner, CallOwner {
  readonly kind = "process" as const;
  /** The plugin's commands, as its host reported them (validated). */
  readonly commands: readonly CommandMeta[];
  #spec: PluginHostSpec;
  #name: string;
  #log: HostLog;
  #live: LiveHost | undefined;
  #starting: Promise<LiveHost> | undefined;
  #retired = new AbortController();
  #closed = false;
  #active = 0;
  #restarts = 0;
  #failures: number[] = [];
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #disabled: string | undefined;

  private constructor(spec: PluginHostSpec, log: HostLog, first: LiveHost, commands: CommandMeta[]) {
    this.#spec = spec;
    this.#name = basename(spec.file);
    this.#log = log;
    this.#live = first;
    this.commands = commands;
    this.#watchMemory(first);
  }

  /**
   * Starts a host for `spec.file` and waits until the plugin has loaded.
   * Rejects with a {@linkcode PluginLoadError} saying why it did not.
   */
  static async load(spec: PluginHostSpec): Promise<PluginHost> {
    const ref: { host?: PluginHost } = {};
    const log = new HostLog(basename(spec.file), spec.logger, spec.options.logsPerSecond);
    const { live, commands } = await spawn(spec, log, () => ref.host);
    ref.host = new PluginHost(spec, log, live, commands);
    return ref.host;
  }

  /** Aborted once a reload replaced this version. */
  get retired(): AbortSignal {
    return this.#retired.signal;
  }

  /** Calls in flight (including cancelled ones whose code has not yet stopped). */
  get calls(): number {
    return this.#active;
  }

  /** Times this version's host was restarted. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Process id of the current host, if one runs. */
  get pid(): number | undefined {
    return this.#live && !this.#live.dead ? this.#live.proc.pid : undefined;
  }

  /** Resident memory of the current host, in bytes, as it last said. */
  get memoryBytes(): number | undefined {
    return this.#live?.rss;
  }

  /** Why this version no longer takes calls, if it does not. */
  get disabled(): string | undefined {
    return this.#disabled;
  }

  /** Whether the version has been retired or closed and has no call left. */
  get finished(): boolean {
    return (this.#retired.signal.aborted || this.#closed) && this.#active === 0;
  }

  /** Commands as the registry holds them: definitions whose `run` lives in the host. */
  toCommands(): Command[] {
    return this.commands.map((m) => ({
      ...m,
      run: () => {
        throw new SockdError(Status.HANDLER_ERROR, `Command "${m.name}" runs in its plugin's host process`);
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
    const current = this.#live;
    if (current && !current.dead) {
      this.#start(current, call);
    } else {
      this.#ready(ctx.signal).then(
        (live) => this.#start(live, call),
        (err) => call.finish({ ok: false, error: toSockdError(err, Status.CANCELLED) }),
      );
    }
    return call;
  }

  /** @internal the consumer took `n` chunks. */
  ack(call: RemoteCall, n: number): void {
    this.#send(call.host as LiveHost, { t: "ack", id: call.id, n });
  }

  /** @internal a call has settled and its consumer is done. */
  released(): void {
    this.#active--;
    this.#finishIfRetired();
  }

  /** @internal asks the host to stop a call; kills the host if it has not within the grace period. */
  cancel(call: RemoteCall, reason: unknown): void {
    const live = call.host as LiveHost;
    if (call.isSettled || call.graceTimer !== undefined || live.dead) return;
    const { graceMs } = this.#spec.options;
    this.#send(live, {
      t: "cancel",
      id: call.id,
      reason: toWireError(toSockdError(reason, Status.CANCELLED)),
    });
    call.graceTimer = setTimeout(() => {
      if (call.isSettled || live.dead) return;
      const why = toSockdError(reason, Status.CANCELLED);
      const what = why.status === Status.TIMEOUT ? "its deadline passed" : "it was cancelled";
      this.#spec.logger.warn("Plugin host killed: a call did not stop in time", {
        plugin: this.#name,
        command: call.command,
        graceMs,
      });
      this.#died(
        live,
        new SockdError(
          Status.HANDLER_ERROR,
          `Plugin host of ${this.#name} was killed: call "${call.command}" did not stop within ${graceMs} ms after ${what}`,
        ),
      );
    }, graceMs);
  }

  /** Tells the current host what commands the server now has. */
  updateView(): void {
    if (this.#live) this.#send(this.#live, { t: "view", view: this.#spec.view() });
  }

  /** Stops taking new work; the host ends once the calls in flight have. */
  retire(): void {
    if (this.#retired.signal.aborted) return;
    this.#retired.abort(new SockdError(Status.CANCELLED, `Plugin ${this.#name} was reloaded`));
    this.#finishIfRetired();
  }

  /** Kills the host now; calls in flight end with 106. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    if (!this.#retired.signal.aborted) this.#retired.abort();
    if (this.#live) this.#stop(this.#live, new SockdError(Status.CANCELLED, "Server is shutting down"));
    this.#live = undefined;
  }

  #finishIfRetired() {
    if (!this.finished) return;
    clearTimeout(this.#restartTimer);
    if (!this.#live) return;
    this.#stop(this.#live, new SockdError(Status.CANCELLED, `Plugin ${this.#name} was reloaded`));
    this.#live = undefined;
  }

  #stop(live: LiveHost, why: SockdError) {
    live.expected = true;
    this.#died(live, why);
  }

  async #ready(signal: AbortSignal): Promise<LiveHost> {
    const current = this.#live;
    if (current && !current.dead) return current;
    this.#starting ??= spawn(this.#spec, this.#log, () => this)
      .then(({ live }) => {
        if (this.#closed || this.finished) {
          this.#stop(live, new SockdError(Status.CANCELLED, `Plugin ${this.#name} was reloaded`));
        } else {
          this.#live = live;
          this.#watchMemory(live);
        }
        return live;
      })
      .catch((err) => {
        const why = new SockdError(
          Status.HANDLER_ERROR,
          `Plugin ${this.#name} could not restart its host: ${(err as Error).message}`,
        );
        this.#failed(why.message);
        throw why;
      })
      .finally(() => this.#starting = undefined);
    const starting = this.#starting;
    starting.catch(() => {});
    return await raceAbort(starting, signal);
  }

  #start(live: LiveHost, call: RemoteCall) {
    if (call.isSettled) return;
    if (live.dead) {
      call.finish({ ok: false, error: live.dead });
      return;
    }
    const ctx = call.ctx;
    call.id = live.nextId();
    call.attach(live);
    live.calls.set(call.id, call);
    this.#send(live, {
      t: "call",
      id: call.id,
      command: call.command,
      args: ctx.args,
      flags: ctx.flags,
      caller: ctx.caller,
      credit: this.#spec.options.chunkCredit,
    });
    // Stopped while waiting for a host: tell it at once.
    if (call.abortedWith) this.cancel(call, call.abortedWith.reason);
  }

  #send(live: LiveHost, msg: Parameters<HostProcess["send"]>[0]) {
    if (live.dead) return;
    live.proc.send(msg);
    if (live.proc.pendingBytes > this.#spec.options.maxPendingBytes) {
      this.#died(
        live,
        new SockdError(Status.HANDLER_ERROR, `Plugin host of ${this.#name} stopped reading its input`),
      );
    }
  }

  /** A host ended (or must): its calls end, and unless that was meant, a new one starts later. */
  #died(live: LiveHost, reason: SockdError) {
    if (live.dead) return;
    live.dead = reason;
    clearInterval(live.timer);
    live.unsubscribe();
    live.proc.kill(reason);
    for (const call of live.calls.values()) {
      call.finish({
        ok: false,
        error: call.ctx.signal.aborted ? toSockdError(call.ctx.signal.reason, Status.CANCELLED) : reason,
      });
    }
    live.calls.clear();
    if (this.#live !== live) return;
    this.#live = undefined;
    if (live.expected || this.#closed || this.#retired.signal.aborted) return;
    this.#spec.logger.error("Plugin host failed", { plugin: this.#name, error: reason.message });
    this.#restarts++;
    if (this.#failed(reason.message)) return;
    const n = this.#failures.length;
    const { restartBackoffMs, restartBackoffMaxMs } = this.#spec.options;
    const wait = Math.min(restartBackoffMaxMs, restartBackoffMs * 2 ** (n - 1));
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => {
      if (this.#live || this.#disabled || this.#closed || this.#retired.signal.aborted) return;
      this.#ready(new AbortController().signal).catch((err) =>
        this.#spec.logger.error("Plugin host failed to restart", { plugin: this.#name, error: err.message })
      );
    }, wait);
  }

  /** Counts a failure; disables the plugin (and says so) when there were too many. */
  #failed(why: string): boolean {
    const now = Date.now();
    const { maxFailures, failureWindowMs } = this.#spec.options;
    this.#failures = this.#failures.filter((t) => now - t < failureWindowMs);
    this.#failures.push(now);
    if (this.#failures.length < maxFailures || this.#disabled) return this.#disabled !== undefined;
    this.#disabled = `Plugin ${this.#name} is disabled: its host failed ${this.#failures.length} times ` +
      `within ${Math.round(failureWindowMs / 1000)} s (last: ${why}); fix it and run reload`;
    clearTimeout(this.#restartTimer);
    this.#spec.logger.error("Plugin disabled", { plugin: this.#name, error: this.#disabled });
    return true;
  }

  /** @internal a validated message from a running host. */
  onMessage(live: LiveHost, msg: FromHost, listener: StateListener) {
    if (live.dead) return;
    switch (msg.t) {
      case "chunk": {
        const call = live.calls.get(msg.id);
        if (!call || call.isSettled) return;
        if (call.queued >= this.#spec.options.chunkCredit * 2) {
          live.calls.delete(msg.id);
          call.finish({
            ok: false,
            error: new SockdError(Status.HANDLER_ERROR, `Plugin ${this.#name} ignored backpressure`),
          });
          return;
        }
        call.push(msg.chunk);
        return;
      }
      case "end": {
        const call = live.calls.get(msg.id);
        if (!call) return;
        live.calls.delete(msg.id);
        call.finish(msg.ok ? { ok: true, result: msg.result } : { ok: false, error: this.#error(msg.error) });
        return;
      }
      case "pull": {
        const call = live.calls.get(msg.id);
        if (call) void this.#pull(live, call);
        return;
      }
      case "state":
        this.#applyState(msg.op, listener);
        return;
      case "log": {
        const call = msg.id === undefined ? undefined : live.calls.get(msg.id);
        this.#log.line(msg.level, msg.msg, msg.fields, call?.ctx.log);
        return;
      }
      case "crash":
        this.#died(
          live,
          new SockdError(
            Status.HANDLER_ERROR,
            `Plugin ${this.#name} crashed: ${this.#message(msg.error.message)}`,
          ),
        );
        return;
      case "pong":
        live.rss = msg.rss;
        return;
      case "loaded":
      case "load-error":
        this.#died(
          live,
          new SockdError(
            Status.HANDLER_ERROR,
            `Plugin host of ${this.#name} broke the protocol: "${msg.t}" again`,
          ),
        );
        return;
    }
  }

  /** @internal the host exited by itself. */
  onExit(live: LiveHost, why: SockdError) {
    this.#died(live, why);
  }

  /** Asks the host for its memory now and then (it keeps its own cap: see host_main.ts). */
  #watchMemory(live: LiveHost) {
    let n = 0;
    this.#send(live, { t: "ping", n: ++n });
    live.timer = setInterval(() => this.#send(live, { t: "ping", n: ++n }), this.#spec.options.memoryCheckMs);
  }

  #applyState(op: StateOp, listener: StateListener) {
    const state = this.#spec.state;
    if (op.op === "set" && !state.map.has(op.key) && state.map.size >= this.#spec.options.maxStateEntries) {
      return;
    }
    state.apply(op, listener);
  }

  async #pull(live: LiveHost, call: RemoteCall) {
    if (call.reading) return;
    call.reading = true;
    let msg: Parameters<HostProcess["send"]>[0];
    try {
      call.reader ??= call.ctx.input.getReader();
      const { done, value } = await call.reader.read();
      msg = done ? { t: "input", id: call.id, done: true } : { t: "input", id: call.id, chunk: value };
    } catch {
      msg = { t: "input", id: call.id, done: true };
    } finally {
      call.reading = false;
    }
    if (!call.isSettled) this.#send(live, msg);
  }

  #message(text: string): string {
    return permissionHint(text, this.#name, this.#spec.configFile) ?? text;
  }

  #error(
    err: { message: string; status?: number; name: string; details?: Record<string, unknown> },
  ): SockdError {
    const hint = permissionHint(err.message, this.#name, this.#spec.configFile);
    if (hint) return new SockdError(Status.HANDLER_ERROR, hint);
    return toSockdError(typeof err.status === "number" ? err : new Error(err.message));
  }
}

/** Starts a host for `spec` and waits for its plugin to load. */
async function spawn(
  spec: PluginHostSpec,
  log: HostLog,
  owner: () => PluginHost | undefined,
): Promise<{ live: LiveHost; commands: CommandMeta[] }> {
  const name = basename(spec.file);
  const { grants } = spec;
  if (grants.import !== true) {
    // Loaded on first use: a server without plugins never parses a module.
    const { checkPluginImports } = await import("../plugins/import_policy.ts");
    await checkPluginImports(spec.file, {
      dir: dirname(spec.file),
      allow: grants.import ?? [],
      configFile: spec.configFile,
    }).catch((err) => {
      throw new PluginLoadError((err as Error).message);
    });
  }
  const memoryMiB = grants.memory ?? spec.options.memoryMiB;
  const live = new LiveHost();
  const listener: StateListener = (op) => live.proc.send({ t: "state", op });
  let loading: { resolve: (c: CommandMeta[]) => void; reject: (e: Error) => void } | undefined;
  const output: string[] = [];
  const loaded = new Promise<CommandMeta[]>((resolve, reject) => loading = { resolve, reject });
  try {
    live.proc = new HostProcess({
      file: spec.file,
      grants,
      memoryMiB,
      rssLimitMiB: memoryMiB + spec.options.memorySlackMiB,
      maxMessageBytes: 17 * 1024 * 1024,
      onMessage: (msg) => {
        if (!loading) return owner()?.onMessage(live, msg, listener);
        if (msg.t === "loaded") loading.resolve(msg.commands);
        else if (msg.t === "load-error" || msg.t === "crash") {
          loading.reject(new PluginLoadError(loadMessage(msg.error, name, spec.configFile)));
        } else if (msg.t === "log") log.line(msg.level, msg.msg, msg.fields);
      },
      onOutput: (line) => {
        if (loading && output.length < 50) output.push(line);
        log.output(line);
      },
      onExit: (why) => {
        if (!loading) return owner()?.onExit(live, why);
        const ours = output.filter((l) => l.startsWith("sockd-host: "));
        const said = (ours.length > 0 ? ours : output).map((l) => l.replace(/^sockd-host: /, "")).join("\n");
        loading.reject(
          new PluginLoadError(
            said ? loadMessage({ name: "Error", message: said }, name, spec.configFile) : why.message,
          ),
        );
      },
    });
  } catch (err) {
    throw new PluginLoadError(`Cannot start a plugin host: ${(err as Error).message}`);
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const commands = await Promise.race([
      loaded,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new PluginLoadError(`Did not load within ${spec.options.loadTimeoutMs} ms`)),
          spec.options.loadTimeoutMs,
        );
      }),
    ]);
    loading = undefined;
    live.proc.send({
      t: "init",
      state: spec.state.snapshot(),
      view: spec.view(),
      maxStateEntries: spec.options.maxStateEntries,
    });
    live.unsubscribe = spec.state.subscribe(listener);
    live.memoryMiB = memoryMiB;
    return { live, commands };
  } catch (err) {
    loading = undefined;
    live.expected = true;
    live.proc.kill(new SockdError(Status.HANDLER_ERROR, "Plugin failed to load"));
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
