/**
 * The input stream of one call: bytes the client sends, bounded.
 *
 * @module
 */

/** A byte stream fed by the session; `push` waits while the reader is behind. */
export class InputQueue {
  readonly stream: ReadableStream<Uint8Array>;
  #ctl!: ReadableStreamDefaultController<Uint8Array>;
  #room: (() => void) | undefined;
  #closed = false;
  #received = false;
  #ended = false;

  /** @param highWaterBytes bytes buffered before `push` waits */
  constructor(highWaterBytes: number) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#ctl = c;
        },
        pull: () => this.#wake(),
        cancel: () => {
          this.#closed = true;
          this.#wake();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: highWaterBytes }),
    );
  }

  /**
   * Adds a chunk; returns undefined when there is room for more, else a
   * promise that resolves once there is (or the stream is gone).
   */
  push(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#closed) return undefined;
    if (chunk.length > 0) this.#received = true;
    this.#ctl.enqueue(chunk);
    if ((this.#ctl.desiredSize ?? 1) > 0) return undefined;
    return new Promise((resolve) => {
      this.#room = resolve;
    });
  }

  /**
   * The client ended the input without sending a byte: the call is as one
   * made without input (`sockd call` offers stdin with every call and ends
   * it at once when the command does not read it).
   */
  get endedEmpty(): boolean {
    return this.#ended && !this.#received;
  }

  /** Ends the stream normally (the client sent everything). */
  end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ended = true;
    this.#ctl.close();
    this.#wake();
  }

  /** Stops the stream: the call is over, nobody will read the rest. */
  discard(): void {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#ctl.error(new Error("Call ended"));
      } catch { /* already closed */ }
    }
    this.#wake();
  }

  #wake() {
    const r = this.#room;
    this.#room = undefined;
    r?.();
  }
}
