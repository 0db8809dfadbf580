/**
 * Lookup, access check, argument parsing, deadline, runner choice, and
 * running a call.
 *
 * An entry without a runner (built-ins, library commands) runs inline, on
 * the fast path: a command whose `run` returns a plain value is answered
 * there and then, with no deadline, no abort controller, no logger and no
 * input stream unless the command asks for them (`ctx.signal`, `ctx.log`
 * and `ctx.input` are made on first use). A call that has to wait gets its
 * deadline from the session's shared {@linkcode Deadlines} (one timer per
 * connection, not one per call).
 *
 * A plugin entry runs on its version's runner (its host process, or inline);
 * a call of a `persistent` plugin command is restarted on the new version
 * when a reload retires the one it runs on, and the client sees one data
 * chunk `{ "$reloaded": "<plugin file name>" }` in between.
 *
 * @module
 */
import { parseCallArgs, type ParsedArgs } from "./args.ts";
import type { CallerInfo, Chunk, Context, Flags, ServerView } from "./command.ts";
import { accessAllows } from "./command.ts";
import type { CallId, Event } from "./dialects/dialect.ts";
import { SockdError, Status, toSockdError } from "./errors.ts";
import type { Limits } from "./limits.ts";
import { childLogger, type Logger } from "./log.ts";
import type { Entry, Registry } from "./registry.ts";
import type { Runner, RunnerCall } from "./runner/runner.ts";
import { suggest } from "./_suggest.ts";
import type { Deadline, Deadlines } from "./_deadlines.ts";

/** One call to run. */
export interface CallSpec {
  id: CallId;
  command: string;
  args: string[];
  /** Deadline the client asked for, in ms. */
  timeoutMs?: number;
}

/** What the session provides for a call. */
export interface CallEnv {
  caller: CallerInfo;
  /**
   * Aborted when the client cancels, disconnects, or the server shuts down.
   * Only {@linkcode Dispatcher.call} reads it; with {@linkcode Dispatcher.start}
   * the caller aborts the {@linkcode RunningCall} instead.
   */
  signal?: AbortSignal;
  /** The caller's input, or a function making it on first use; empty when absent. */
  input?: ReadableStream<Uint8Array> | (() => ReadableStream<Uint8Array>);
  /** Where the call's deadline waits; a timer of its own when absent. */
  deadlines?: Deadlines;
}

/** A finished call, for statistics and logs. */
export interface CallRecord {
  command: string;
  status: number;
  durationMs: number;
  caller: CallerInfo;
}

/** Options of {@linkcode Dispatcher}. */
export interface DispatcherOptions {
  limits: Limits;
  logger: Logger;
  server: ServerView;
  /** Told about every finished call. */
  onCallEnd?: (record: CallRecord) => void;
}

/**
 * A call that did not finish at once: pull its events with `next` (data
 * events, then exactly one end event; do not call `next` after the end),
 * and `abort` it on cancel, disconnect or shutdown.
 */
export interface RunningCall {
  /** The next event; never rejects. Pulling is the backpressure: the command waits between pulls. */
  next(): Promise<Event>;
  /** Stops the call: a pending or next `next` answers the end with `reason` (CANCELLED unless a SockdError). */
  abort(reason: unknown): void;
}

/** What {@linkcode Dispatcher.start} returns: the end event of a call that finished at once, or the running call. */
export type Started = Event | RunningCall;

/** Whether `started` is a call still running (rather than its end event). */
export function isRunning(started: Started): started is RunningCall {
  return typeof (started as RunningCall).next === "function";
}

/** The abort reason of a call that ended normally: one shared object, not one per call. */
const CALL_ENDED: SockdError = new SockdError(Status.CANCELLED, "Call ended");

const EMPTY_INPUT = () => new ReadableStream<Uint8Array>({ start: (c) => c.close() });

/** Runs calls against a registry, producing events. */
export class Dispatcher {
  #registry: Registry;
  #opts: DispatcherOptions;

  constructor(registry: Registry, options: DispatcherOptions) {
    this.#registry = registry;
    this.#opts = options;
  }

  /**
   * Starts one call. Returns its end event when it finished at once (a
   * plain return value, an error, an unknown command), or the running call.
   * Never throws for anything the call does.
   */
  start(spec: CallSpec, env: CallEnv): Started {
    const started = performance.now();
    const resolved = this.#resolve(spec, env);
    if (resolved.end) return this.#ended(spec, env, started, resolved.end);
    const entry = resolved.entry!;
    const parsed = resolved.parsed!;
    const runner = entry.runner;
    const deadline = this.#deadline(entry.info.timeout, entry.info.persistent, spec.timeoutMs);
    if (runner && entry.info.persistent) {
      return new PersistentCall(this, spec, env, entry, parsed, deadline, started);
    }
    const ctx = new CallContext(spec.command, parsed, entry.state, env, this.#opts);
    let out: unknown;
    try {
      out = runner ? runner.run(spec.command, ctx) : entry.command.run(ctx);
    } catch (err) {
      CallContext.end(ctx, CALL_ENDED);
      return this.#ended(spec, env, started, endError(spec.id, toSockdError(err)));
    }
    if (out !== null && typeof out === "object" || typeof out === "function") {
      const iterable = typeof (out as AsyncIterable<Chunk>)[Symbol.asyncIterator] === "function";
      if (iterable || typeof (out as PromiseLike<unknown>).then === "function") {
        return new AsyncCall(this, spec, env, ctx, out, iterable, deadline, started);
      }
    }
    // A plain value: the call is over.
    CallContext.end(ctx, CALL_ENDED);
    return this.#ended(spec, env, started, { type: "end", id: spec.id, status: Status.OK, result: out });
  }

  /**
   * Runs one call: yields its data events, then exactly one end event.
   * Never throws for anything the call does. Aborting `env.signal` cancels it.
   */
  async *call(spec: CallSpec, env: CallEnv): AsyncGenerator<Event, void, undefined> {
    const started = this.start(spec, env);
    if (!isRunning(started)) {
      yield started;
      return;
    }
    const signal = env.signal;
    const onAbort = () => started.abort(signal!.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    let ended = false;
    try {
      while (!ended) {
        const event = await started.next();
        ended = event.type === "end";
        yield event;
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      if (!ended) started.abort(CALL_ENDED);
    }
  }

  /** @internal reports a finished call and returns its end event. */
  _record(spec: CallSpec, env: CallEnv, started: number, end: Event): Event {
    const onCallEnd = this.#opts.onCallEnd;
    if (onCallEnd) {
      onCallEnd({
        command: spec.command,
        status: end.type === "end" ? end.status : Status.OK,
        durationMs: performance.now() - started,
        caller: env.caller,
      });
    }
    return end;
  }

  /** @internal the entry of a call, with access and arguments checked. */
  _resolve(spec: CallSpec, env: CallEnv): { entry?: Entry; parsed?: ParsedArgs; end?: Event } {
    return this.#resolve(spec, env);
  }

  /** @internal */
  get _opts(): DispatcherOptions {
    return this.#opts;
  }

  #ended(spec: CallSpec, env: CallEnv, started: number, end: Event): Event {
    return this._record(spec, env, started, end);
  }

  /** Finds the entry of a call and checks access and arguments; an end event when it cannot run. */
  #resolve(spec: CallSpec, env: CallEnv): { entry?: Entry; parsed?: ParsedArgs; end?: Event } {
    const { id } = spec;
    const entry = this.#registry.get(spec.command);
    if (!entry) {
      const visible = this.#registry.list(env.caller.access).map((c) => c.name);
      const hint = suggest(spec.command, visible);
      return {
        end: endError(
          id,
          new SockdError(
            Status.NOT_FOUND,
            `Unknown command "${spec.command}"` + (hint ? ` (did you mean "${hint}"?)` : ""),
            { details: hint ? { suggestion: hint } : undefined },
          ),
        ),
      };
    }
    if (!accessAllows(env.caller.access, entry.info.access)) {
      return {
        end: endError(
          id,
          new SockdError(
            Status.FORBIDDEN,
            `Command "${spec.command}" needs access level ${entry.info.access}; this socket allows ${env.caller.access}`,
          ),
        ),
      };
    }
    try {
      return { entry, parsed: parseCallArgs(entry.command, spec.args) };
    } catch (err) {
      return { end: endError(id, toSockdError(err, Status.BAD_ARGS)) };
    }
  }

  /** @internal the deadline of a call in ms; 0 for none. */
  #deadline(own: number | undefined, persistent: boolean, asked: number | undefined): number {
    const { defaultCallTimeoutMs, maxCallTimeoutMs } = this.#opts.limits;
    const base = own ?? (persistent ? 0 : defaultCallTimeoutMs);
    if (asked !== undefined && asked > 0) return Math.min(asked, maxCallTimeoutMs);
    return base === 0 ? 0 : Math.min(base, maxCallTimeoutMs);
  }
}

/**
 * What a command's `run` receives. `signal`, `log` and `input` are made on
 * first use: most calls never touch them.
 */
class CallContext implements Context {
  readonly command: string;
  args: string[];
  flags: Flags;
  readonly state: Map<string, unknown>;
  readonly caller: CallerInfo;
  readonly server: ServerView;
  #env: CallEnv;
  #logger: Logger;
  #ctrl: AbortController | undefined;
  /** Why the call was stopped (or ended), once it was; made into the signal's reason. */
  #reason: unknown;
  #stopped = false;
  #log: Logger | undefined;
  #input: ReadableStream<Uint8Array> | undefined;

  constructor(
    command: string,
    parsed: ParsedArgs,
    state: Map<string, unknown>,
    env: CallEnv,
    opts: DispatcherOptions,
  ) {
    this.command = command;
    this.args = parsed.args;
    this.flags = parsed.flags;
    this.state = state;
    this.caller = env.caller;
    this.server = opts.server;
    this.#env = env;
    this.#logger = opts.logger;
  }

  /** Aborted on cancel, disconnect, deadline and shutdown, and once the call has ended. */
  get signal(): AbortSignal {
    if (!this.#ctrl) {
      this.#ctrl = new AbortController();
      if (this.#stopped) this.#ctrl.abort(this.#reason);
    }
    return this.#ctrl.signal;
  }

  /** What the caller sends as input (empty when it sends none). */
  get input(): ReadableStream<Uint8Array> {
    if (!this.#input) {
      const input = this.#env.input;
      this.#input = input === undefined ? EMPTY_INPUT() : typeof input === "function" ? input() : input;
    }
    return this.#input;
  }

  /** Logs with the call's command and connection attached. */
  get log(): Logger {
    return this.#log ??= childLogger(this.#logger, { command: this.command, conn: this.caller.connection });
  }

  /** Stops the call with `reason` (first reason wins); aborts the signal if it was made. */
  static end(ctx: CallContext, reason: unknown): void {
    if (ctx.#stopped) return;
    ctx.#stopped = true;
    ctx.#reason = reason;
    ctx.#ctrl?.abort(reason);
  }

  /** Whether the call was stopped, and why. */
  static stopped(ctx: CallContext): { reason: unknown } | undefined {
    return ctx.#stopped ? { reason: ctx.#reason } : undefined;
  }
}

/** A call whose command returned a promise or an async iterable (or runs in a plugin host). */
class AsyncCall implements RunningCall {
  #d: Dispatcher;
  #spec: CallSpec;
  #env: CallEnv;
  #ctx: CallContext;
  #started: number;
  /** A unary command's end, when it came before anyone pulled. */
  #settled: Event | undefined;
  #it: AsyncIterator<Chunk, unknown, undefined> | undefined;
  #resolve: ((event: Event) => void) | undefined;
  /** Set once the end event is decided. */
  #ended = false;
  /** The command's iterator has finished (or was never started). */
  #exhausted = false;
  /** Why the call was aborted, when it was. */
  #abort: { reason: unknown } | undefined;
  #deadline: Deadline | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #onStep = (step: IteratorResult<Chunk, unknown>) => this.#step(step);
  #onError = (err: unknown) => this.#failed(err);

  constructor(
    d: Dispatcher,
    spec: CallSpec,
    env: CallEnv,
    ctx: CallContext,
    out: unknown,
    iterable: boolean,
    deadlineMs: number,
    started: number,
  ) {
    this.#d = d;
    this.#spec = spec;
    this.#env = env;
    this.#ctx = ctx;
    this.#started = started;
    if (iterable) {
      try {
        this.#it = (out as AsyncIterable<Chunk>)[Symbol.asyncIterator]() as AsyncIterator<
          Chunk,
          unknown,
          undefined
        >;
      } catch (err) {
        this.#exhausted = true;
        this.#settled = this.#errorEnd(err);
      }
    } else {
      // Handled from the start: a rejection before the first pull is not unhandled.
      try {
        (out as PromiseLike<unknown>).then(
          (value) => this.#settle({ type: "end", id: spec.id, status: Status.OK, result: value }),
          (err) => this.#settle(this.#errorEnd(err)),
        );
      } catch (err) {
        this.#settled = this.#errorEnd(err);
      }
    }
    if (deadlineMs > 0) {
      const fire = () => this.abort(new SockdError(Status.TIMEOUT, `Deadline of ${deadlineMs} ms passed`));
      const left = deadlineMs - (performance.now() - started);
      if (env.deadlines) this.#deadline = env.deadlines.add(left, fire);
      else this.#timer = setTimeout(fire, Math.max(0, left));
    }
  }

  next(): Promise<Event> {
    return new Promise<Event>((resolve) => {
      this.#resolve = resolve;
      if (this.#abort) return this.#end(this.#abortEnd());
      if (this.#settled) return this.#end(this.#settled);
      if (this.#it) this.#pull();
    });
  }

  abort(reason: unknown): void {
    if (this.#ended || this.#abort) return;
    this.#abort = { reason };
    CallContext.end(this.#ctx, reason);
    // A runner that can be told at once (a plugin host) is, even while the session is busy writing.
    const it = this.#it as RunnerCall | undefined;
    if (it?.abort) {
      try {
        it.abort(reason);
      } catch { /* a broken runner */ }
    }
    // A pull in progress is answered now; the command is not waited for.
    if (this.#resolve) this.#end(this.#abortEnd());
  }

  #pull() {
    try {
      this.#it!.next().then(this.#onStep, this.#onError);
    } catch (err) {
      this.#failed(err);
    }
  }

  #step(step: IteratorResult<Chunk, unknown>) {
    if (this.#ended) return;
    if (step.done) {
      this.#exhausted = true;
      this.#end({ type: "end", id: this.#spec.id, status: Status.OK, result: step.value });
      return;
    }
    if (step.value === undefined) {
      this.#pull();
      return;
    }
    const resolve = this.#resolve!;
    this.#resolve = undefined;
    resolve({ type: "data", id: this.#spec.id, chunk: step.value });
  }

  #failed(err: unknown) {
    if (this.#ended) return;
    this.#exhausted = true;
    this.#end(this.#errorEnd(err));
  }

  /** A unary command settled. */
  #settle(event: Event) {
    if (this.#ended) return;
    if (this.#resolve) this.#end(event);
    else this.#settled = event;
  }

  #errorEnd(err: unknown): Event {
    return endError(
      this.#spec.id,
      this.#abort ? toSockdError(this.#abort.reason, Status.CANCELLED) : toSockdError(err),
    );
  }

  #abortEnd(): Event {
    return endError(this.#spec.id, toSockdError(this.#abort!.reason, Status.CANCELLED));
  }

  #end(event: Event) {
    this.#ended = true;
    if (this.#deadline) this.#env.deadlines!.remove(this.#deadline);
    clearTimeout(this.#timer);
    // Tell the command its run is over before letting it unwind.
    CallContext.end(this.#ctx, CALL_ENDED);
    if (this.#it && !this.#exhausted) {
      this.#exhausted = true;
      // Let a generator run its finally blocks; never wait on a stuck command.
      try {
        this.#it.return?.(undefined)?.then(undefined, () => {});
      } catch { /* a broken iterator */ }
    }
    this.#d._record(this.#spec, this.#env, this.#started, event);
    const resolve = this.#resolve!;
    this.#resolve = undefined;
    resolve(event);
  }
}

/**
 * A call of a `persistent` plugin command: restarted on the new version
 * when a reload retires the one it runs on. Rare, so it keeps the plain
 * generator machinery.
 */
class PersistentCall implements RunningCall {
  #gen: AsyncGenerator<Event, void, undefined>;
  #ctrl = new AbortController();

  constructor(
    d: Dispatcher,
    spec: CallSpec,
    env: CallEnv,
    entry: Entry,
    parsed: ParsedArgs,
    deadlineMs: number,
    started: number,
  ) {
    this.#gen = runPersistent(d, spec, env, entry, parsed, deadlineMs, this.#ctrl, started);
  }

  async next(): Promise<Event> {
    const step = await this.#gen.next();
    // The generator always ends with an end event; this is a guard.
    if (step.done) {
      return endError(null, new SockdError(Status.HANDLER_ERROR, "Call ended without an answer"));
    }
    // Nobody pulls after the end: run the generator's cleanup now.
    if (step.value.type === "end") this.#gen.next().catch(() => {});
    return step.value;
  }

  abort(reason: unknown): void {
    if (!this.#ctrl.signal.aborted) this.#ctrl.abort(reason);
  }
}

async function* runPersistent(
  d: Dispatcher,
  spec: CallSpec,
  env: CallEnv,
  entry: Entry,
  parsed: ParsedArgs,
  deadline: number,
  ctrl: AbortController,
  started: number,
): AsyncGenerator<Event, void, undefined> {
  const { id } = spec;
  const opts = d._opts;
  const timer = deadline > 0
    ? setTimeout(
      () => ctrl.abort(new SockdError(Status.TIMEOUT, `Deadline of ${deadline} ms passed`)),
      deadline,
    )
    : undefined;
  const aborted = abortedPromise(ctrl.signal);
  const log = childLogger(opts.logger, { command: spec.command, conn: env.caller.connection });
  const finish = (event: Event) => d._record(spec, env, started, event);
  try {
    let marker: Chunk | undefined;
    while (true) {
      const runner: Runner = entry.runner!;
      const restart = new AbortController();
      const input = env.input;
      const ctx: Context = {
        command: spec.command,
        args: parsed.args,
        flags: parsed.flags,
        signal: AbortSignal.any([ctrl.signal, restart.signal]),
        input: input === undefined ? EMPTY_INPUT() : typeof input === "function" ? input() : input,
        log,
        state: entry.state,
        caller: env.caller,
        server: opts.server,
      };
      const gen = asIterator(runner.run(spec.command, ctx));
      const retired = signalled(runner.retired);
      let reloaded = false;
      // A call ended from outside (cancel, hang-up, shutdown) is told at once: the consumer may never
      // pull this stream again, so waiting for the finally below would leave a plugin host spinning.
      const stop = () => (gen as { abort?: (reason: unknown) => void }).abort?.(ctrl.signal.reason);
      ctrl.signal.addEventListener("abort", stop, { once: true });
      try {
        if (marker !== undefined) yield { type: "data", id, chunk: marker };
        while (true) {
          const step = await Promise.race([gen.next(), aborted, retired]);
          if (step === RETIRED) {
            reloaded = true;
            break;
          }
          if (step.done) {
            yield finish({ type: "end", id, status: Status.OK, result: step.value });
            return;
          }
          if (step.value === undefined) continue;
          yield { type: "data", id, chunk: step.value as Chunk };
          if (ctrl.signal.aborted) throw ctrl.signal.reason;
        }
      } catch (err) {
        const e = ctrl.signal.aborted
          ? toSockdError(ctrl.signal.reason, Status.CANCELLED)
          : toSockdError(err);
        yield finish(endError(id, e));
        return;
      } finally {
        ctrl.signal.removeEventListener("abort", stop);
        // Tell the command its run is over (a reload, or the call ended) before letting it unwind.
        if (!restart.signal.aborted) {
          restart.abort(
            reloaded
              ? new SockdError(Status.CANCELLED, `Plugin ${sourceName(entry.info.source)} was reloaded`)
              : CALL_ENDED,
          );
        }
        if (!reloaded && !ctrl.signal.aborted) ctrl.abort(CALL_ENDED);
        // Let a generator run its finally blocks; never wait on a stuck command.
        gen.return?.(undefined)?.then(undefined, () => {});
      }
      // The plugin was reloaded under a persistent stream: carry on with the new version.
      const source = entry.info.source;
      const next = d._resolve(spec, env);
      if (next.end) {
        const why = next.end.type === "end" && next.end.status === Status.NOT_FOUND
          ? endError(
            id,
            new SockdError(
              Status.CANCELLED,
              `Command "${spec.command}" was removed by a reload of ${sourceName(source)}`,
            ),
          )
          : next.end;
        yield finish(why);
        return;
      }
      entry = next.entry!;
      parsed = next.parsed!;
      if (!entry.runner || !entry.info.persistent) {
        // The new version is no longer a persistent plugin command: run it once, plainly.
        const started2 = d.start(spec, env);
        marker = undefined;
        yield { type: "data", id, chunk: { $reloaded: sourceName(source) } };
        if (!isRunning(started2)) {
          yield started2;
          return;
        }
        const onAbort = () => started2.abort(ctrl.signal.reason);
        ctrl.signal.addEventListener("abort", onAbort, { once: true });
        try {
          while (true) {
            const event = await started2.next();
            yield event;
            if (event.type === "end") return;
          }
        } finally {
          ctrl.signal.removeEventListener("abort", onAbort);
        }
      }
      marker = { $reloaded: sourceName(source) };
      log.debug("Persistent stream restarted on the new version", { plugin: source });
    }
  } finally {
    clearTimeout(timer);
    if (!ctrl.signal.aborted) ctrl.abort(CALL_ENDED);
  }
}

/** What a runner returned, as an iterator: a stream as it is, a value or promise as a stream of none. */
function asIterator(out: unknown): AsyncIterator<Chunk, unknown, undefined> {
  if (out !== null && typeof out === "object" && Symbol.asyncIterator in out) {
    return (out as AsyncIterable<Chunk>)[Symbol.asyncIterator]() as AsyncIterator<Chunk, unknown, undefined>;
  }
  let done = false;
  return {
    next: async () => {
      if (done) return { done: true, value: undefined };
      done = true;
      return { done: true, value: await out };
    },
  };
}

function endError(id: CallId, err: SockdError): Event {
  return {
    type: "end",
    id,
    status: err.status,
    error: err.message,
    ...(err.details ? { details: err.details } : {}),
  };
}

const RETIRED: unique symbol = Symbol("retired");

/** Resolves (to {@linkcode RETIRED}) once `signal` aborts. */
function signalled(signal: AbortSignal): Promise<typeof RETIRED> {
  if (signal.aborted) return Promise.resolve(RETIRED);
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(RETIRED), { once: true }));
}

/** `tail.ts` for `/srv/cmds/tail.ts`. */
function sourceName(source: string): string {
  return source.slice(source.lastIndexOf("/") + 1);
}

function abortedPromise(signal: AbortSignal): Promise<never> {
  const p = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
  p.catch(() => {});
  return p;
}
