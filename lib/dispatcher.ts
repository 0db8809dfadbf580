/**
 * Lookup, access check, argument parsing, deadline, and running a call.
 *
 * @module
 */
import { parseCallArgs } from "./args.ts";
import type { CallerInfo, Chunk, Context, ServerView } from "./command.ts";
import { accessAllows } from "./command.ts";
import type { CallId, Event } from "./dialects/dialect.ts";
import { SockdError, Status, toSockdError } from "./errors.ts";
import type { Limits } from "./limits.ts";
import { childLogger, type Logger } from "./log.ts";
import type { Registry } from "./registry.ts";
import { runInline } from "./runner/inline.ts";
import { suggest } from "./_suggest.ts";

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
  /** Aborted when the client cancels, disconnects, or the server shuts down. */
  signal: AbortSignal;
  input: ReadableStream<Uint8Array>;
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

const EMPTY_INPUT = () => new ReadableStream<Uint8Array>({ start: (c) => c.close() });

/** Runs calls against a registry, producing events. */
export class Dispatcher {
  #registry: Registry;
  #opts: DispatcherOptions;

  constructor(registry: Registry, options: DispatcherOptions) {
    this.#registry = registry;
    this.#opts = options;
  }

  /** An empty input stream, for calls that send none. */
  static emptyInput(): ReadableStream<Uint8Array> {
    return EMPTY_INPUT();
  }

  /**
   * Runs one call: yields its data events, then exactly one end event.
   * Never throws for anything the call does.
   */
  async *call(spec: CallSpec, env: CallEnv): AsyncGenerator<Event, void, undefined> {
    const started = performance.now();
    let status: number = Status.OK;
    try {
      for await (const event of this.#run(spec, env)) {
        if (event.type === "end") status = event.status;
        yield event;
      }
    } finally {
      this.#opts.onCallEnd?.({
        command: spec.command,
        status,
        durationMs: performance.now() - started,
        caller: env.caller,
      });
    }
  }

  async *#run(spec: CallSpec, env: CallEnv): AsyncGenerator<Event, void, undefined> {
    const { id } = spec;
    const entry = this.#registry.get(spec.command);
    if (!entry) {
      const visible = this.#registry.list(env.caller.access).map((c) => c.name);
      const hint = suggest(spec.command, visible);
      yield endError(
        id,
        new SockdError(
          Status.NOT_FOUND,
          `Unknown command "${spec.command}"` + (hint ? ` (did you mean "${hint}"?)` : ""),
          { details: hint ? { suggestion: hint } : undefined },
        ),
      );
      return;
    }
    if (!accessAllows(env.caller.access, entry.info.access)) {
      yield endError(
        id,
        new SockdError(
          Status.FORBIDDEN,
          `Command "${spec.command}" needs access level ${entry.info.access}; this socket allows ${env.caller.access}`,
        ),
      );
      return;
    }
    let parsed;
    try {
      parsed = parseCallArgs(entry.command, spec.args);
    } catch (err) {
      yield endError(id, toSockdError(err, Status.BAD_ARGS));
      return;
    }

    const deadline = this.#deadline(entry.info.timeout, entry.info.persistent, spec.timeoutMs);
    const ctrl = new AbortController();
    const onCancel = () => ctrl.abort(env.signal.reason);
    if (env.signal.aborted) onCancel();
    else env.signal.addEventListener("abort", onCancel, { once: true });
    const timer = deadline > 0
      ? setTimeout(
        () => ctrl.abort(new SockdError(Status.TIMEOUT, `Deadline of ${deadline} ms passed`)),
        deadline,
      )
      : undefined;
    const aborted = abortedPromise(ctrl.signal);

    const ctx: Context = {
      command: spec.command,
      args: parsed.args,
      flags: parsed.flags,
      signal: ctrl.signal,
      input: env.input,
      log: childLogger(this.#opts.logger, {
        command: spec.command,
        conn: env.caller.connection,
      }),
      state: entry.state,
      caller: env.caller,
      server: this.#opts.server,
    };

    const gen = runInline(entry.command, ctx);
    try {
      while (true) {
        const step = await Promise.race([gen.next(), aborted]);
        if (step.done) {
          yield { type: "end", id, status: Status.OK, result: step.value };
          return;
        }
        if (step.value === undefined) continue;
        yield { type: "data", id, chunk: step.value as Chunk };
        if (ctrl.signal.aborted) throw ctrl.signal.reason;
      }
    } catch (err) {
      const e = ctrl.signal.aborted ? toSockdError(ctrl.signal.reason, Status.CANCELLED) : toSockdError(err);
      yield endError(id, e);
    } finally {
      clearTimeout(timer);
      env.signal.removeEventListener("abort", onCancel);
      // The call ended or its consumer went away: tell the command.
      if (!ctrl.signal.aborted) ctrl.abort(new SockdError(Status.CANCELLED, "Call ended"));
      // Let a generator run its finally blocks; never wait on a stuck command.
      gen.return(undefined).catch(() => {});
    }
  }

  #deadline(own: number | undefined, persistent: boolean, asked: number | undefined): number {
    const { defaultCallTimeoutMs, maxCallTimeoutMs } = this.#opts.limits;
    const base = own ?? (persistent ? 0 : defaultCallTimeoutMs);
    if (asked !== undefined && asked > 0) return Math.min(asked, maxCallTimeoutMs);
    return base === 0 ? 0 : Math.min(base, maxCallTimeoutMs);
  }
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

function abortedPromise(signal: AbortSignal): Promise<never> {
  const p = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
  p.catch(() => {});
  return p;
}
