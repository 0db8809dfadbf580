/**
 * A call of a `persistent` plugin command, restarted on the new version
 * when a reload retires the one it runs on; the client sees one data chunk
 * `{ "$reloaded": "<plugin file name>" }` in between.
 *
 * @module
 */
import type { ParsedArgs } from "./args.ts";
import type { Chunk, Context } from "./command.ts";
import type { Event } from "./dialects/dialect.ts";
import type { CallEnv, CallSpec, Dispatcher } from "./dispatcher.ts";
import { SockdError, Status, toSockdError } from "./errors.ts";
import { childLogger } from "./log.ts";
import type { Entry } from "./registry.ts";
import type { Runner } from "./runner/runner.ts";
import { isRunning, type RunningCall } from "./running_call.ts";
import { EMPTY_INPUT } from "./_call_context.ts";
import { CALL_ENDED, endError } from "./_call_end.ts";

/**
 * A call of a `persistent` plugin command: restarted on the new version
 * when a reload retires the one it runs on. Rare, so it keeps the plain
 * generator machinery.
 */
export class PersistentCall implements RunningCall {
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
