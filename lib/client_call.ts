/**
 * One call on a client connection: its chunks, as an async iterable or read
 * into the caller's buffer, and its result.
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

/** A {@linkcode Call.readInto} waiting for bytes. */
interface Lender {
  buf: Uint8Array;
  filled: number;
  resolve: (n: number | null) => void;
  reject: (err: Error) => void;
}

const encoder = new TextEncoder();

/**
 * One call in progress: iterate it for its chunks (or read its bytes into
 * your own buffer with {@linkcode Call.readInto}), await `result` for its
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
  #lender: Lender | undefined;

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

  /**
   * Reads the call's next bytes into `buf` (from its start); resolves to
   * the count, or to null once the call has ended and every byte was read.
   * Rejects with the call's error once the bytes before it are read. Text
   * chunks are read as UTF-8; a structured chunk rejects with a TypeError
   * (iterate such a call instead). One read at a time.
   *
   * Meant for large outputs: while a reader waits, the client reads the
   * call's bytes from the socket straight into `buf`, so nothing is
   * allocated per chunk. Lend at least 64 KiB (the size of the chunks
   * sockd's own commands stream) and keep reading until null (or cancel):
   * bytes that arrive while nobody reads are kept, as for iteration.
   *
   * @example
   * ```ts
   * import { connect, serve } from "sockd";
   * const path = `${await Deno.makeTempDir()}/s.sock`;
   * const server = await serve({
   *   path,
   *   commands: [{
   *     name: "zeros",
   *     summary: "Stream 1 MiB of zeros",
   *     async *run() {
   *       for (let i = 0; i < 16; i++) yield new Uint8Array(64 * 1024);
   *     },
   *   }],
   * });
   * const client = await connect(path);
   * const call = client.call("zeros");
   * const buf = new Uint8Array(64 * 1024);
   * let total = 0;
   * for (let n; (n = await call.readInto(buf)) !== null;) total += n; // use buf.subarray(0, n)
   * console.assert(total === 1024 * 1024);
   * client.close();
   * await server.close();
   * ```
   */
  readInto(buf: Uint8Array): Promise<number | null> {
    if (!(buf instanceof Uint8Array) || buf.length === 0) {
      return Promise.reject(new RangeError("readInto needs a Uint8Array of at least one byte"));
    }
    if (this.#lender) return Promise.reject(new TypeError("A readInto is already waiting on this call"));
    let n: number;
    try {
      n = this.#take(buf, 0);
    } catch (err) {
      return Promise.reject(err);
    }
    if (n > 0) return Promise.resolve(n);
    if (this.#ended) return this.#error ? Promise.reject(this.#error) : Promise.resolve(null);
    return new Promise((resolve, reject) => this.#lender = { buf, filled: 0, resolve, reject });
  }

  /**
   * @internal for a writer of the call's output (`sockd call`): reads bytes
   * and text into `buf` as {@linkcode Call.readInto} does, or resolves to
   * the structured chunk first in line (as `{ value }`), or to null at the
   * end. Like `readInto`, it rejects with the call's error.
   */
  async _readOrTake(buf: Uint8Array): Promise<number | { value: Chunk } | null> {
    for (;;) {
      if (this.#valueFirst()) {
        const queue = this.#queue!;
        const value = queue.shift()!;
        if (queue.length < PENDING_CHUNKS / 2) this.#freeRoom();
        return { value };
      }
      try {
        return await this.readInto(buf);
      } catch (err) {
        // A structured chunk arrived while the read waited with nothing read: take it (next turn).
        if (!(err instanceof TypeError) || !this.#valueFirst()) throw err;
      }
    }
  }

  /** Whether a structured chunk is first in line. */
  #valueFirst(): boolean {
    const queue = this.#queue;
    if (!queue || queue.length === 0) return false;
    const head = queue[0];
    return typeof head !== "string" && !(head instanceof Uint8Array);
  }

  /**
   * @internal a data chunk arrived; resolves when there is room for more.
   * A `borrowed` chunk is a view of memory the client reads into again: it
   * is copied if kept.
   */
  _data(chunk: Chunk, borrowed = false): Promise<void> | undefined {
    const lender = this.#lender;
    if (lender && chunk instanceof Uint8Array) {
      // A reader waits, so nothing is queued: the bytes go to its buffer.
      const m = this.#lend(chunk);
      this.#settle(lender.filled);
      if (m === chunk.length) return undefined;
      chunk = chunk.subarray(m);
    }
    const queue = this.#queue ??= [];
    queue.push(borrowed && chunk instanceof Uint8Array ? chunk.slice() : chunk);
    this.#notify();
    if (this.#lender) this.#serveLender();
    if (queue.length < PENDING_CHUNKS) return undefined;
    return new Promise((r) => this.#room = r);
  }

  /** @internal whether a waiting reader has room for all of an `n`-byte chunk (then it is copied there, not kept). */
  _takesWhole(n: number): boolean {
    const lender = this.#lender;
    return lender !== undefined && lender.buf.length - lender.filled >= n;
  }

  /** @internal where the rest of a data chunk may be read straight to: the waiting reader's free space. */
  _lendTarget(): Uint8Array | undefined {
    const lender = this.#lender;
    return lender && lender.filled < lender.buf.length ? lender.buf.subarray(lender.filled) : undefined;
  }

  /**
   * @internal the first `part` of a data chunk whose rest the client will
   * read into {@linkcode Call._lendTarget}: lent (borrowed bytes) without
   * waking the reader, unless its buffer is full.
   */
  _lendPart(part: Uint8Array): void {
    if (!this.#lender) return void this._data(part, true);
    const m = this.#lend(part);
    if (m < part.length) this._data(part.subarray(m), true);
  }

  /** @internal `n` bytes were read into {@linkcode Call._lendTarget}; `done` when the chunk is complete. */
  _lent(n: number, done: boolean): void {
    const lender = this.#lender;
    if (!lender) return; // the call failed meanwhile (the connection closed)
    lender.filled += n;
    if (done || lender.filled === lender.buf.length) this.#settle(lender.filled);
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
    const lender = this.#lender;
    if (lender) {
      if (lender.filled > 0) this.#settle(lender.filled);
      else if (error) this.#settle(error);
      else this.#settle(null);
    }
  }

  /** Copies what fits of `bytes` into the waiting reader's buffer; returns the count. */
  #lend(bytes: Uint8Array): number {
    const lender = this.#lender!;
    const m = Math.min(bytes.length, lender.buf.length - lender.filled);
    lender.buf.set(m === bytes.length ? bytes : bytes.subarray(0, m), lender.filled);
    lender.filled += m;
    return m;
  }

  /** Ends the waiting read. */
  #settle(outcome: number | null | Error) {
    const lender = this.#lender!;
    this.#lender = undefined;
    if (outcome instanceof Error) lender.reject(outcome);
    else lender.resolve(outcome);
  }

  /** The waiting reader takes what is queued (text or bytes). */
  #serveLender() {
    const lender = this.#lender!;
    try {
      lender.filled = this.#take(lender.buf, lender.filled);
    } catch (err) {
      return this.#settle(err as Error);
    }
    if (lender.filled > 0) this.#settle(lender.filled);
  }

  /** Moves queued bytes into `buf` from `off`; returns the new end. Throws on a structured chunk first in line. */
  #take(buf: Uint8Array, off: number): number {
    const queue = this.#queue;
    while (queue && queue.length > 0 && off < buf.length) {
      let head = queue[0]!;
      if (typeof head === "string") head = queue[0] = encoder.encode(head);
      if (!(head instanceof Uint8Array)) {
        if (off > 0) break;
        throw new TypeError(
          "readInto reads bytes and text; this call streamed a structured value: iterate it",
        );
      }
      const m = Math.min(head.length, buf.length - off);
      buf.set(m === head.length ? head : head.subarray(0, m), off);
      off += m;
      if (m < head.length) queue[0] = head.subarray(m);
      else {
        queue.shift();
        if (queue.length < PENDING_CHUNKS / 2) this.#freeRoom();
      }
    }
    return off;
  }

  /**
   * The call's chunks, in order. A bytes chunk is the caller's to keep: its
   * bytes stay valid and are never overwritten by later chunks, and writing
   * into it changes nothing else. A large one may be a view of a larger
   * buffer (a nonzero `byteOffset`): use its bytes, not its `buffer`.
   */
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
