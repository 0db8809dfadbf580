/**
 * Runs a plugin file in its own host process (a {@linkcode Runner} for the
 * dispatcher): at most one host at a time per loaded version, restarted with
 * backoff when it fails, disabled after repeated failures.
 *
 * A host runs only while it is used: the one that loads the version reports
 * its commands (kept here, so `help`, completion and access checks need no
 * host) and is stopped at once; the first call starts another (calls that
 * arrive meanwhile wait for it, within their deadlines), and it is stopped
 * once it has had no call for `idleMs` (a persistent call keeps it).
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
import { basename } from "node:path";
import type { Command, Context } from "../command.ts";
import { SockdError, Status, toSockdError } from "../errors.ts";
import { permissionHint } from "./grants.ts";
import { HostLog } from "./host_log.ts";
import type { HostProcess } from "./host_process.ts";
import { type CommandMeta, type FromHost, type StateOp, toWireError } from "./host_protocol.ts";
import { type HostEvents, type PluginHostSpec, spawnHost } from "./host_spawn.ts";
import type { LiveHost, Routes } from "./live_host.ts";
import { type CallOwner, nextInput, RemoteCall } from "./remote_call.ts";
import { RestartPolicy } from "./restart_policy.ts";
import { IdleStop } from "./_idle_stop.ts";
import { hostErrors } from "./_host_errors.ts";
import { raceAbort } from "../_abortable.ts";
import { callError, type PluginLoadError } from "./load_error.ts";
import { applyHostState } from "./state.ts";
import type { Runner, RunnerCall } from "./runner.ts";
import type { StateListener } from "./state.ts";

export { PluginLoadError } from "./load_error.ts";
export type { PluginHostSpec } from "./host_spawn.ts";

/** One loaded version of one plugin file, running in a host process. */
export class PluginHost implements Runner, CallOwner, HostEvents {
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
  #policy: RestartPolicy;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #idle: IdleStop;
  #persistent: Set<string>;
  #routes: Routes;

  private constructor(
    spec: PluginHostSpec,
    log: HostLog,
    first: LiveHost,
    commands: CommandMeta[],
    keep: boolean,
  ) {
    this.#spec = spec;
    this.#name = basename(spec.file);
    this.#log = log;
    this.#policy = new RestartPolicy(this.#name, spec.options);
    this.#persistent = new Set(commands.filter((c) => c.persistent).map((c) => c.name));
    this.#routes = {
      name: this.#name,
      chunkCredit: spec.options.chunkCredit,
      log,
      error: (err) => callError(err, this.#name, spec.configFile),
      pull: (call) => void this.#pull(call.host as LiveHost, call),
    };
    this.commands = commands;
    const idle = spec.grants.idle;
    this.#idle = new IdleStop(idle === undefined ? spec.options.idleMs : Math.round(idle * 1000), () => {
      this.#spec.logger.debug("Plugin host stopped: idle", { plugin: this.#name, idleMs: this.#idle.ms });
      this.#stop(this.#live!, new SockdError(Status.CANCELLED, `Plugin host of ${this.#name} stopped: idle`));
    });
    if (this.#idle.enabled && !keep) {
      // It has said what it serves: it starts again on the first call.
      this.#stop(first, new SockdError(Status.CANCELLED, `Plugin host of ${this.#name} stopped: loaded`));
    } else {
      this.#live = first;
      this.#watchMemory(first);
      this.#idle.arm(this.#isIdle);
    }
  }

  /**
   * Starts a host for `spec.file` and waits until the plugin has loaded.
   * Rejects with a {@linkcode PluginLoadError} saying why it did not. The
   * host is then stopped until the first call, unless `keep` (the version
   * this one replaces had a host running: a reload keeps a busy plugin's
   * host warm, and its calls need not wait for a start) or hosts always run.
   */
  static async load(spec: PluginHostSpec, options: { keep?: boolean } = {}): Promise<PluginHost> {
    const ref: { host?: PluginHost } = {};
    const log = new HostLog(basename(spec.file), spec.logger, spec.options.logsPerSecond);
    const { live, commands } = await spawnHost(spec, log, () => ref.host);
    ref.host = new PluginHost(spec, log, live, commands, options.keep ?? false);
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

  /** Whether a host runs now (`"starting"`: one is on its way for a call or a restart). */
  get host(): "running" | "starting" | "stopped" {
    if (this.#live && !this.#live.dead) return "running";
    return this.#starting ? "starting" : "stopped";
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
    return this.#policy.disabled;
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
    // Counted at once, so a retiring version cannot stop under a call, nor an idle host.
    this.#active++;
    this.#idle.clear();
    const ackEvery = Math.max(1, Math.floor(this.#spec.options.chunkCredit / 4));
    const call = new RemoteCall(this, command, ctx, ackEvery);
    const disabled = this.#policy.disabled;
    if (disabled) {
      call.finish({ ok: false, error: new SockdError(Status.HANDLER_ERROR, disabled) });
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
    this.#idle.arm(this.#isIdle);
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
      const timedOut = toSockdError(reason, Status.CANCELLED).status === Status.TIMEOUT;
      this.#spec.logger.warn("Plugin host killed: a call did not stop in time", {
        plugin: this.#name,
        command: call.command,
        graceMs,
      });
      this.#died(live, hostErrors.graceOver(this.#name, call.command, graceMs, timedOut));
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
    this.#idle.clear();
    if (!this.#retired.signal.aborted) this.#retired.abort();
    if (this.#live) this.#stop(this.#live, new SockdError(Status.CANCELLED, "Server is shutting down"));
    this.#live = undefined;
  }

  #finishIfRetired() {
    if (!this.finished) return;
    clearTimeout(this.#restartTimer);
    this.#idle.clear();
    if (!this.#live) return;
    this.#stop(this.#live, new SockdError(Status.CANCELLED, `Plugin ${this.#name} was reloaded`));
    this.#live = undefined;
  }

  #stop(live: LiveHost, why: SockdError) {
    live.expected = true;
    this.#died(live, why);
  }

  /**
   * Keeps the running host from idling out (`on`): its file changed on disk
   * and the new content failed to load, so a new host would not load this
   * version's code.
   */
  pin(on: boolean): void {
    this.#idle.pin(on, this.#isIdle);
  }

  /** No call, and a live host: what may stop when idle. */
  #isIdle = () => this.#active === 0 && this.#live !== undefined && !this.#live.dead;

  async #ready(signal: AbortSignal): Promise<LiveHost> {
    const current = this.#live;
    if (current && !current.dead) return current;
    this.#starting ??= spawnHost(this.#spec, this.#log, () => this)
      .then(({ live }) => {
        if (this.#closed || this.finished) {
          this.#stop(live, new SockdError(Status.CANCELLED, `Plugin ${this.#name} was reloaded`));
        } else {
          this.#live = live;
          this.#watchMemory(live);
          // A restart no call waits for idles out like any other host.
          this.#idle.arm(this.#isIdle);
        }
        return live;
      })
      .catch((err) => {
        const why = hostErrors.cannotStart(this.#name, (err as Error).message);
        // Not the plugin's failure: its file moved on. The reload that is due serves the new content.
        if ((err as PluginLoadError).stale) this.#spec.onStale?.();
        else this.#failed(why.message);
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
      this.#died(live, hostErrors.notReading(this.#name));
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
    const wait = this.#failed(reason.message);
    if (wait === undefined) return;
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => {
      if (this.#live || this.#policy.disabled || this.#closed || this.#retired.signal.aborted) return;
      this.#ready(new AbortController().signal).catch((err) =>
        this.#spec.logger.error("Plugin host failed to restart", { plugin: this.#name, error: err.message })
      );
    }, wait);
  }

  /** Counts a failure; returns the wait before a restart, or undefined once disabled (and says so). */
  #failed(why: string): number | undefined {
    const wait = this.#policy.fail(why);
    if (wait === undefined) {
      clearTimeout(this.#restartTimer);
      this.#spec.logger.error("Plugin disabled", { plugin: this.#name, error: this.#policy.disabled });
    }
    return wait;
  }

  /** @internal a validated message from a running host. */
  onMessage(live: LiveHost, msg: FromHost, listener: StateListener) {
    if (live.dead || live.route(msg, this.#routes)) return;
    switch (msg.t) {
      case "state":
        this.#applyState(live, msg.op, listener);
        return;
      case "crash":
        this.#died(live, hostErrors.crashed(this.#name, this.#message(msg.error.message)));
        return;
      case "loaded":
      case "load-error":
        this.#died(live, hostErrors.protocol(this.#name, msg.t));
        return;
    }
  }

  /** @internal the host exited by itself. */
  onExit(live: LiveHost, why: SockdError) {
    this.#died(live, why);
  }

  /** Pings the host for its memory, and kills one that stops answering (see LiveHost.heartbeat). */
  #watchMemory(live: LiveHost) {
    const { memoryCheckMs, unresponsiveMs } = this.#spec.options;
    const send = (msg: { t: "ping"; n: number }) => this.#send(live, msg);
    const silent = (ms: number) => this.#died(live, hostErrors.silent(this.#name, ms));
    live.heartbeat({ send, memoryCheckMs, unresponsiveMs, persistent: this.#persistent, silent });
  }

  /** A state change from a host, held to the entry and byte budgets (a host over them is stopped). */
  #applyState(live: LiveHost, op: StateOp, listener: StateListener) {
    const over = applyHostState(this.#spec.state, op, listener, this.#spec.options);
    if (over) this.#died(live, hostErrors.stateBudget(this.#name, over));
  }

  /** The call's next input chunk (or its end), for the host that asked. */
  async #pull(live: LiveHost, call: RemoteCall) {
    const msg = await nextInput(call);
    if (msg && !call.isSettled) this.#send(live, msg);
  }

  #message(text: string): string {
    return permissionHint(text, this.#name, this.#spec.configFile) ?? text;
  }
}
