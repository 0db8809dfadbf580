/**
 * Lookup, access check, argument parsing, deadline, runner choice, and
 * running a call. The running calls are their own files: `_async_call.ts`
 * (a call that waits), `_persistent_call.ts` (a persistent plugin command),
 * with `_call_context.ts` (what `run` receives).
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
import type { CallerInfo, Chunk, ServerView } from "./command.ts";
import { accessAllows } from "./command.ts";
import type { CallId, Event } from "./dialects/dialect.ts";
import { SockdError, Status, toSockdError } from "./errors.ts";
import type { Limits } from "./limits.ts";
import type { Logger } from "./log.ts";
import type { Entry, Registry } from "./registry.ts";
import { isRunning, type Started } from "./running_call.ts";
import { suggest } from "./_suggest.ts";
import type { Deadlines } from "./_deadlines.ts";
import { AsyncCall } from "./_async_call.ts";
import { CallContext } from "./_call_context.ts";
import { CALL_ENDED, endError } from "./_call_end.ts";
import { PersistentCall } from "./_persistent_call.ts";

export { isRunning, type RunningCall, type Started } from "./running_call.ts";

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
  /**
   * The caller's last clock reading (`performance.now()`): when the read
   * that brought the call arrived, or the previous call ended. The call's
   * duration counts from there, and a call's end moves it on, so the calls
   * of one read take one reading each instead of two (a reading costs
   * ~80 ns; two per call were ~9% of the busy CPU with 16 pipelined JSON
   * lines). The
   * dispatcher reads the clock itself when absent.
   */
  clock?: { at: number };
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
    const started = env.clock?.at ?? performance.now();
    const resolved = this.#resolve(spec, env);
    if (resolved.end) return this.#ended(spec, env, started, resolved.end);
    const entry = resolved.entry!;
    const parsed = resolved.parsed!;
    const runner = entry.runner;
    if (runner && entry.info.persistent) {
      const deadline = this.#deadline(entry.info.timeout, true, spec.timeoutMs);
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
        // Only a call that waits has a deadline to work out.
        const deadline = this.#deadline(entry.info.timeout, entry.info.persistent, spec.timeoutMs);
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

  /** Whether `command` is `persistent`: its calls follow something until cancelled, and move with their connection. */
  isPersistent(command: string): boolean {
    return this.#registry.get(command)?.info.persistent === true;
  }

  /** @internal reports a finished call and returns its end event. */
  _record(spec: CallSpec, env: CallEnv, started: number, end: Event): Event {
    const onCallEnd = this.#opts.onCallEnd;
    if (onCallEnd) {
      const now = performance.now();
      if (env.clock) env.clock.at = now;
      onCallEnd({
        command: spec.command,
        status: end.type === "end" ? end.status : Status.OK,
        durationMs: now - started,
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
