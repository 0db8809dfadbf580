/**
 * One call of a plugin as the server tracks it while it runs in a host
 * process: its chunks (a bounded queue) and its end, pulled by the
 * dispatcher as an async iterator. No generator and no promise per call
 * beyond the pull that waits.
 *
 * @module
 */
import type { Chunk, Context } from "../command.ts";
import { SockdError, Status } from "../errors.ts";
import type { RunnerCall } from "./runner.ts";

/** What a call reports to the runner that owns it. */
export interface CallOwner {
  /** The consumer took `n` more chunks: the host may send as many more. */
  ack(call: RemoteCall, n: number): void;
  /** Stop `call` on its host (cancel, deadline, disconnect). */
  cancel(call: RemoteCall, reason: unknown): void;
  /** The call has settled and its consumer is done. */
  released(): void;
}

/** How a call ended. */
export type End = { ok: true; result: unknown } | { ok: false; error: SockdError };

/** The abort reason of a call whose consumer stopped without cancelling. */
const CALL_ENDED = new SockdError(Status.CANCELLED, "Call ended");

/** A call running on a plugin host. */
export class RemoteCall implements RunnerCall {
  id = 0;
  readonly command: string;
  readonly ctx: Context;
  isSettled = false;
  reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  reading = false;
  graceTimer: ReturnType<typeof setTimeout> | undefined;
  #owner: CallOwner;
  #host: unknown;
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

  constructor(owner: CallOwner, command: string, ctx: Context, ackEvery: number) {
    this.#owner = owner;
    this.command = command;
    this.ctx = ctx;
    this.#ackEvery = ackEvery;
  }

  get queued(): number {
    return this.#queue?.length ?? 0;
  }

  /** Runs on `host` from now on. */
  attach(host: unknown) {
    this.#host = host;
  }

  /** The host it runs on, once it has started on one. */
  get host(): unknown {
    return this.#host;
  }

  /** Resolves once the call has settled (its end came, or its host died). */
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
      if (++this.#consumed >= this.#ackEvery && !this.isSettled && this.#host) {
        this.#owner.ack(this, this.#consumed);
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

  /** The consumer stops early (cancel, disconnect, deadline): tell the host, unless the call is over. */
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

  /** Stops the call with `reason`: the host is asked to, and killed if it does not in time. */
  abort(reason: unknown): void {
    if (this.isSettled) return;
    this.#aborted ??= { reason };
    if (this.#host) this.#owner.cancel(this, reason);
  }

  /** Why the call was stopped before it started on a host, if it was. */
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
    this.#owner.released();
  }
}

/**
 * Reads the next chunk of `call`'s input for its host: the `input` message to
 * send, or undefined when a read is already under way.
 */
export async function nextInput(
  call: RemoteCall,
): Promise<{ t: "input"; id: number; chunk?: Uint8Array; done?: boolean } | undefined> {
  if (call.reading) return undefined;
  call.reading = true;
  try {
    call.reader ??= call.ctx.input.getReader();
    const { done, value } = await call.reader.read();
    return done ? { t: "input", id: call.id, done: true } : { t: "input", id: call.id, chunk: value };
  } catch {
    return { t: "input", id: call.id, done: true };
  } finally {
    call.reading = false;
  }
}
