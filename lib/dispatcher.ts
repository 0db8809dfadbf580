/**
 * Lookup, access check, argument parsing, deadline, runner choice, and
 * running a call.
 *
 * An entry without a runner (built-ins, library commands) runs inline, on
 * the fast path. A plugin entry runs on its version's runner (a sandbox
 * worker, or inline); a call of a `persistent` plugin command is restarted on
 * the new version when a reload retires the one it runs on, and the client
 * sees one data chunk `{ "$reloaded": "<plugin file name>" }` in between.
 *
 * @module
 */
import { parseCallArgs, type ParsedArgs } from "./args.ts";
import type { CallerInfo, Chunk, Context, ServerView } from "./command.ts";
import { accessAllows } from "./command.ts";
import type { CallId, Event } from "./dialects/dialect.ts";
import { SockdError, Status, toSockdError } from "./errors.ts";
import type { Limits } from "./limits.ts";
import { childLogger, type Logger } from "./log.ts";
import type { Entry, Registry } from "./registry.ts";
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

  /** Finds the entry of a call and checks access and arguments; an end event when it cannot run. */
  #resolve(spec: CallSpec, env: CallEnv): { entry: Entry; parsed: ParsedArgs } | { end: Event } {
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

  async *#run(spec: CallSpec, env: CallEnv): AsyncGenerator<Event, void, undefined> {
    const { id } = spec;
    const resolved = this.#resolve(spec, env);
    if ("end" in resolved) {
      yield resolved.end;
      return;
    }
    let { entry, parsed } = resolved;

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
    const log = childLogger(this.#opts.logger, { command: spec.command, conn: env.caller.connection });

    try {
      // Runs once, or again on each reload for a persistent plugin command.
      let marker: Chunk | undefined;
      while (true) {
        const runner = entry.runner;
        // Only a persistent plugin command is restarted; inline commands take the plain path.
        const restart = runner && entry.info.persistent ? new AbortController() : undefined;
        const ctx: Context = {
          command: spec.command,
          args: parsed.args,
          flags: parsed.flags,
          signal: restart ? AbortSignal.any([ctrl.signal, restart.signal]) : ctrl.signal,
          input: env.input,
          log,
          state: entry.state,
          caller: env.caller,
          server: this.#opts.server,
        };
        const gen = runner ? runner.run(spec.command, ctx) : runInline(entry.command, ctx);
        const retired = restart ? signalled(runner!.retired) : undefined;
        let reloaded = false;
        try {
          if (marker !== undefined) yield { type: "data", id, chunk: marker };
          while (true) {
            const step = await (retired
              ? Promise.race([gen.next(), aborted, retired])
              : Promise.race([gen.next(), aborted]));
            if (step === RETIRED) {
              reloaded = true;
              break;
            }
            if (step.done) {
              yield { type: "end", id, status: Status.OK, result: step.value };
              return;
            }
            if (step.value === undefined) {
              continue;
            }
            yield { type: "data", id, chunk: step.value as Chunk };
            if (ctrl.signal.aborted) {
              throw ctrl.signal.reason;
            }
          }
        } catch (err) {
          const e = ctrl.signal.aborted
            ? toSockdError(ctrl.signal.reason, Status.CANCELLED)
            : toSockdError(err);
          yield endError(id, e);
          return;
        } finally {
          // Tell the command its run is over (a reload, or the call ended) before letting it unwind.
          if (restart && !restart.signal.aborted) {
            restart.abort(
              reloaded
                ? new SockdError(Status.CANCELLED, `Plugin ${sourceName(entry.info.source)} was reloaded`)
                : new SockdError(Status.CANCELLED, "Call ended"),
            );
          }
          if (!reloaded && !ctrl.signal.aborted) ctrl.abort(new SockdError(Status.CANCELLED, "Call ended"));
          // Let a generator run its finally blocks; never wait on a stuck command.
          gen.return(undefined).catch(() => {});
        }
        // The plugin was reloaded under a persistent stream: carry on with the new version.
        const source = entry.info.source;
        const next = this.#resolve(spec, env);
        if ("end" in next) {
          const why = next.end.type === "end" && next.end.status === Status.NOT_FOUND
            ? endError(
              id,
              new SockdError(
                Status.CANCELLED,
                `Command "${spec.command}" was removed by a reload of ${sourceName(source)}`,
              ),
            )
            : next.end;
          yield why;
          return;
        }
        ({ entry, parsed } = next);
        marker = { $reloaded: sourceName(source) };
        log.debug("Persistent stream restarted on the new version", { plugin: source });
      }
    } finally {
      clearTimeout(timer);
      env.signal.removeEventListener("abort", onCancel);
      if (!ctrl.signal.aborted) ctrl.abort(new SockdError(Status.CANCELLED, "Call ended"));
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
