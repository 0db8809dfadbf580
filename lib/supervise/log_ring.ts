/**
 * One output stream of a child (stdout or stderr), kept as the last
 * `capacity` bytes in a fixed buffer: writing is a copy, whatever the child
 * writes and however fast, so memory is bounded and a flood costs no more
 * than memcpy. Lines are found only when someone asks (`logs -n N`).
 * Followers (`logs -f`) get chunks through a bounded queue.
 *
 * @module
 */
import { type Delivery, EventBus } from "./event_bus.ts";

const NL = 0x0a;

/**
 * A ring buffer of bytes with tail and follow.
 *
 * @example
 * ```ts
 * import { LogRing } from "./log_ring.ts";
 * const ring = new LogRing(16);
 * ring.write(new TextEncoder().encode("one\ntwo\nthree\nfour\n"));
 * console.assert(ring.tail(2) === "three\nfour\n");
 * console.assert(ring.written === 19 && ring.size === 16);
 * ```
 */
export class LogRing {
  readonly capacity: number;
  #buf: Uint8Array;
  #end = 0;
  #size = 0;
  #written = 0;
  #bus = new EventBus<Uint8Array>();

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError("capacity must be a positive integer");
    }
    this.capacity = capacity;
    this.#buf = new Uint8Array(capacity);
  }

  /** Bytes held now (at most `capacity`). */
  get size(): number {
    return this.#size;
  }

  /** Bytes written since the ring was made. */
  get written(): number {
    return this.#written;
  }

  /** Appends `chunk`, dropping the oldest bytes past `capacity`, and hands it to followers. */
  write(chunk: Uint8Array): void {
    this.#written += chunk.byteLength;
    // A copy: the caller reuses its buffer for the next read.
    if (this.#bus.size > 0) this.#bus.publish(chunk.slice());
    let data = chunk;
    if (data.byteLength >= this.capacity) {
      data = data.subarray(data.byteLength - this.capacity);
      this.#buf.set(data);
      this.#end = 0;
      this.#size = this.capacity;
      return;
    }
    const first = Math.min(data.byteLength, this.capacity - this.#end);
    this.#buf.set(data.subarray(0, first), this.#end);
    this.#buf.set(data.subarray(first), 0);
    this.#end = (this.#end + data.byteLength) % this.capacity;
    this.#size = Math.min(this.capacity, this.#size + data.byteLength);
  }

  /** The bytes held, oldest first (a copy). */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#size);
    const start = (this.#end - this.#size + this.capacity) % this.capacity;
    const first = Math.min(this.#size, this.capacity - start);
    out.set(this.#buf.subarray(start, start + first));
    out.set(this.#buf.subarray(0, this.#size - first), first);
    return out;
  }

  /**
   * The last `lines` lines, as text. A first line cut by the ring's edge is
   * left out when whole lines before it are asked for.
   */
  tail(lines: number): string {
    if (lines <= 0 || this.#size === 0) return "";
    const all = this.bytes();
    let i = all.byteLength - 1;
    if (all[i] === NL) i--; // the last line's own newline
    let found = 0;
    for (; i >= 0; i--) {
      if (all[i] === NL && ++found === lines) break;
    }
    let from = i + 1;
    // Ran off the start of a ring that has overflowed: its first line is a fragment.
    if (i < 0 && this.#written > this.#size) {
      const nl = all.indexOf(NL);
      from = nl < 0 || nl === all.byteLength - 1 ? 0 : nl + 1;
    }
    return new TextDecoder().decode(all.subarray(from));
  }

  /** Chunks written from now on, through a queue of at most `maxBytes`. */
  follow(signal: AbortSignal, maxBytes = 256 * 1024): AsyncIterable<Delivery<Uint8Array>> {
    return this.#bus.subscribe({ signal, max: maxBytes, cost: (c) => c.byteLength });
  }

  /** Ends every follower (the process is gone for good). */
  close(): void {
    this.#bus.close();
  }
}
