/**
 * A running call whose command returned a promise or an async iterable (or
 * runs in a plugin host): pulled one event at a time, with its deadline on
 * the session's shared timer.
 *
 * @module
 */
import type { Chunk } from "./command.ts";
import type { Event } from "./dialects/dialect.ts";
import type { CallEnv, CallSpec, Dispatcher } from "./dispatcher.ts";
import { SockdError, Status, toSockdError } from "./errors.ts";
import type { RunnerCall } from "./runner/runner.ts";
import type { RunningCall } from "./running_call.ts";
import type { Deadline } from "./_deadlines.ts";
import { CallContext } from "./_call_context.ts";
import { CALL_ENDED, endError } from "./_call_end.ts";

/** A call whose command returned a promise or an async iterable (or runs in a plugin host). */
export class AsyncCall implements RunningCall {
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
