/**
 * One call on a client connection: its chunks, as an async iterable, and its
 * result.
 *
 * @module
 */
import type { Chunk } from "./command.ts";
import type { SockdError } from "./errors.ts";

/** What a call asks of its connection. */
export interface CallOwner {
  /** Asks the server to cancel call `id`. */
  _cancel(id: number): void;
}

/** Chunks pending in one call before the client stops reading the connection. */
export const PENDING_CHUNKS = 256;

/**
 * One call in progress: iterate it for its chunks, await `result` for its
 * result. A server error rejects `result` (and ends iteration by throwing)
 * with a {@linkcode SockdError} whose `remote` is true; a dead connection
 * rejects with CONN_ERROR (103) and `remote` false.
 */
export class Call implements AsyncIterable<Chunk> {
  /** The call's id on its connection. */
  readonly id: number;
  /** Resolves with the command's result (undefined when it returns none). */
  readonly result: Promise<unknown>;
  /** Chunks not yet read (made on the first: a unary call has none). */
  #queue: Chunk[] | undefined;
  #wake: (() => void) | undefined;
  #room: (() => void) | undefined;
  #ended = false;
  #error: SockdError | undefined;
  #resolve!: (v: unknown) => void;
  #reject!: (e: SockdError) => void;
  #owner: CallOwner;

  /** @internal */
  constructor(id: number, owner: CallOwner) {
    this.id = id;
    this.#owner = owner;
    this.result = new Promise((res, rej) => {
      this.#resolve = res;
      this.#reject = rej;
    });
  }

  /** Asks the server to cancel the call. */
  cancel(): void {
    if (!this.#ended) this.#owner._cancel(this.id);
  }

  /** Whether the call has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** @internal a data chunk arrived; resolves when there is room for more. */
  _data(chunk: Chunk): Promise<void> | undefined {
    const queue = this.#queue ??= [];
    queue.push(chunk);
    this.#notify();
    if (queue.length < PENDING_CHUNKS) return undefined;
    return new Promise((r) => this.#room = r);
  }

  /** @internal the call ended. */
  _end(error: SockdError | undefined, result?: unknown) {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    if (error) {
      // Iterating callers learn of errors there; an unawaited result must not crash the program.
      // (Attached only on failure: a catch per call cost a promise and a closure per call.)
      this.result.catch(() => {});
      this.#reject(error);
    } else this.#resolve(result);
    this.#notify();
    this.#freeRoom();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Chunk, void, undefined> {
    while (true) {
      const queue = this.#queue;
      if (queue && queue.length > 0) {
        const chunk = queue.shift()!;
        if (queue.length < PENDING_CHUNKS / 2) this.#freeRoom();
        yield chunk;
        continue;
      }
      if (this.#ended) {
        if (this.#error) throw this.#error;
        return;
      }
      await new Promise<void>((r) => this.#wake = r);
    }
  }

  #notify() {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  #freeRoom() {
    const r = this.#room;
    this.#room = undefined;
    r?.();
  }
}
