/**
 * Splits a byte stream into length-prefixed frames (u32 big-endian length,
 * then that many bytes), never holding more than one frame plus one chunk.
 *
 * A frame inside a pushed chunk comes out as a view of it, with no copy. A
 * frame that straddles chunks is gathered into a buffer of exactly its size,
 * allocated once its length is known, each byte copied once; a caller may
 * even read the rest of a large one straight into that buffer
 * ({@linkcode FrameDecoder.readTarget}). Such a frame owns its buffer
 * ({@linkcode ownsBuffer}), so a decoder may keep views of it.
 *
 * @module
 */
import { SockdError, Status } from "../errors.ts";

/** Bytes of the length prefix. */
export const FRAME_HEADER_BYTES = 4;

const NONE: Uint8Array[] = [];
/** Frames up to this size get their whole buffer when their length prefix arrives. */
const EAGER_BYTES = 1024 * 1024;

/** Incremental frame splitter; {@linkcode FrameDecoder.push} returns whole frames. */
export class FrameDecoder {
  #max: number;
  /** Bytes of a length prefix that straddles chunks. */
  #head: Uint8Array | undefined;
  #headLen = 0;
  /** The body of the frame under way: its exact size, or (for a large frame) what has arrived so far. */
  #body: Uint8Array | undefined;
  /** Size of the frame under way. */
  #size = 0;
  #have = 0;
  /**
   * Asked when a frame begins in a pushed chunk but does not end there,
   * with its size and the part that arrived: answering true hands the frame
   * over (the caller reads its other `size - part.length` bytes itself,
   * then pushes what follows), false lets the decoder gather it. `part` is
   * a view of the chunk.
   */
  onPartial: ((size: number, part: Uint8Array) => boolean) | undefined;

  /** @param maxFrameBytes largest body accepted; longer frames throw TOO_LARGE. */
  constructor(maxFrameBytes: number) {
    this.#max = maxFrameBytes;
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.#body ? FRAME_HEADER_BYTES + this.#have : this.#headLen;
  }

  /** A copy of the bytes held for the frame under way, its length prefix included. */
  pending(): Uint8Array {
    if (!this.#body) return this.#head?.slice(0, this.#headLen) ?? new Uint8Array(0);
    const out = new Uint8Array(FRAME_HEADER_BYTES + this.#have);
    new DataView(out.buffer).setUint32(0, this.#size);
    out.set(this.#body.subarray(0, this.#have), FRAME_HEADER_BYTES);
    return out;
  }

  /**
   * Feeds bytes; returns the frames completed by them. A frame that lay
   * inside `chunk` is a view of it, valid as long as `chunk`'s bytes are.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    let off = 0;
    let frames = NONE;
    if (this.#headLen > 0 || this.#body) {
      off = this.#continue(chunk);
      if (!this.#body || this.#have < this.#size) return NONE; // still under way: all of chunk was taken
      frames = [this.#done()];
    }
    const end = chunk.length;
    while (end - off >= FRAME_HEADER_BYTES) {
      const size = ((chunk[off]! << 24) >>> 0) + (chunk[off + 1]! << 16) + (chunk[off + 2]! << 8) +
        chunk[off + 3]!;
      this.#check(size);
      const start = off + FRAME_HEADER_BYTES;
      if (end - start < size) {
        const part = chunk.subarray(start);
        if (!this.onPartial?.(size, part)) this.#start(size, part);
        return frames;
      }
      if (frames === NONE) frames = [];
      frames.push(chunk.subarray(start, start + size));
      off = start + size;
    }
    if (off < end) {
      // Part of a length prefix.
      this.#head ??= new Uint8Array(FRAME_HEADER_BYTES);
      this.#head.set(chunk.subarray(off));
      this.#headLen = end - off;
    }
    return frames;
  }

  /**
   * Where to read next to fill the frame under way directly, when at least
   * `min` bytes of it are missing: a view of the rest of its buffer. After
   * reading `n` bytes into it, call {@linkcode FrameDecoder.filled}.
   */
  readTarget(min: number): Uint8Array | undefined {
    if (!this.#body || this.#size - this.#have < min) return undefined;
    this.#room(Math.min(this.#size - this.#have, min));
    return this.#body.subarray(this.#have);
  }

  /** `n` bytes were read into {@linkcode FrameDecoder.readTarget}; returns the frame if that completed it. */
  filled(n: number): Uint8Array[] {
    this.#have += n;
    return this.#have === this.#size ? [this.#done()] : NONE;
  }

  /** Continues a frame that straddles chunks; returns the bytes of `chunk` used. */
  #continue(chunk: Uint8Array): number {
    let off = 0;
    if (!this.#body) {
      const take = Math.min(FRAME_HEADER_BYTES - this.#headLen, chunk.length);
      this.#head!.set(chunk.subarray(0, take), this.#headLen);
      this.#headLen += take;
      off = take;
      if (this.#headLen < FRAME_HEADER_BYTES) return off;
      const h = this.#head!;
      const size = ((h[0]! << 24) >>> 0) + (h[1]! << 16) + (h[2]! << 8) + h[3]!;
      this.#headLen = 0;
      this.#check(size);
      const part = chunk.subarray(off, off + size);
      if (part.length === size || !this.onPartial?.(size, part)) this.#start(size, part);
      return off + part.length;
    }
    const take = Math.min(this.#size - this.#have, chunk.length);
    this.#room(take);
    this.#body.set(take === chunk.length ? chunk : chunk.subarray(0, take), this.#have);
    this.#have += take;
    return take;
  }

  /** Makes room for `n` more bytes of a large frame, growing its buffer (to its exact size at last). */
  #room(n: number) {
    const body = this.#body!;
    const need = this.#have + n;
    if (need <= body.length) return;
    const next = new Uint8Array(Math.min(this.#size, Math.max(need, body.length * 2)));
    next.set(body.subarray(0, this.#have));
    this.#body = next;
  }

  /** A frame of `size` bytes begins with `part` (all that arrived of it; all of it when its prefix straddled chunks). */
  #start(size: number, part: Uint8Array) {
    // A frame up to EAGER_BYTES gets its buffer at once; a larger one grows as its bytes arrive, so
    // a client announcing large frames and sending nothing more holds no large buffer.
    const body = new Uint8Array(size <= EAGER_BYTES ? size : Math.max(part.length, EAGER_BYTES));
    body.set(part);
    this.#size = size;
    this.#have = part.length;
    this.#body = body;
  }

  /** The frame under way is complete. */
  #done(): Uint8Array {
    const body = this.#body!;
    this.#body = undefined;
    this.#have = 0;
    this.#size = 0;
    return body;
  }

  #check(size: number) {
    if (size > this.#max) {
      throw new SockdError(
        Status.TOO_LARGE,
        `Frame of ${size} bytes exceeds the limit of ${this.#max}`,
      );
    }
  }
}

/** Whether `frame` owns all of its buffer (a frame gathered across chunks), so views of it may be kept. */
export function ownsBuffer(frame: Uint8Array): boolean {
  return frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength;
}

/** Prefixes `body` with its length. */
export function frame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}
