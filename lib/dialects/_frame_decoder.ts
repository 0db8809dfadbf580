/**
 * Splits a byte stream into length-prefixed frames (u32 big-endian length,
 * then that many bytes), never holding more than one frame plus one chunk.
 *
 * @module
 */
import { SockdError, Status } from "../errors.ts";

/** Bytes of the length prefix. */
export const FRAME_HEADER_BYTES = 4;

/** Incremental frame splitter; {@linkcode FrameDecoder.push} returns whole frames. */
export class FrameDecoder {
  #max: number;
  #buf = new Uint8Array(0);
  #len = 0;

  /** @param maxFrameBytes largest body accepted; longer frames throw TOO_LARGE. */
  constructor(maxFrameBytes: number) {
    this.#max = maxFrameBytes;
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.#len;
  }

  /** Feeds bytes; returns the frames completed by them (views valid until the next push). */
  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let data: Uint8Array;
    if (this.#len === 0) {
      data = chunk;
    } else {
      this.#append(chunk);
      data = this.#buf.subarray(0, this.#len);
    }
    let off = 0;
    while (data.length - off >= FRAME_HEADER_BYTES) {
      const size = ((data[off]! << 24) >>> 0) + (data[off + 1]! << 16) + (data[off + 2]! << 8) +
        data[off + 3]!;
      if (size > this.#max) {
        throw new SockdError(
          Status.TOO_LARGE,
          `Frame of ${size} bytes exceeds the limit of ${this.#max}`,
        );
      }
      if (data.length - off - FRAME_HEADER_BYTES < size) break;
      frames.push(data.subarray(off + FRAME_HEADER_BYTES, off + FRAME_HEADER_BYTES + size));
      off += FRAME_HEADER_BYTES + size;
    }
    const rest = data.subarray(off);
    if (rest.length === 0) {
      this.#len = 0;
    } else if (data === chunk) {
      this.#len = 0;
      this.#append(rest.slice());
    } else if (off > 0) {
      // Frames returned above point into #buf; keep the tail in a fresh buffer
      // so they stay valid until the caller's next push.
      const tail = rest.slice();
      this.#buf = new Uint8Array(Math.max(tail.length, 4096));
      this.#buf.set(tail);
      this.#len = tail.length;
    }
    return frames;
  }

  #append(bytes: Uint8Array) {
    const need = this.#len + bytes.length;
    if (need > this.#buf.length) {
      // Never grow past one maximal frame (the size was checked when the header arrived).
      const cap = Math.min(
        Math.max(need, this.#buf.length * 2, 4096),
        this.#max + FRAME_HEADER_BYTES + bytes.length,
      );
      const next = new Uint8Array(Math.max(cap, need));
      next.set(this.#buf.subarray(0, this.#len));
      this.#buf = next;
    }
    this.#buf.set(bytes, this.#len);
    this.#len = need;
  }
}

/** Prefixes `body` with its length. */
export function frame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}
