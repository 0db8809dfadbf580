/**
 * The client's write side: frames are encoded straight into a batch buffer,
 * and each batch goes out in one write: the frames made in one tick, and
 * those made while a write is under way, go together.
 *
 * @module
 */
import type { ByteChannel } from "./byte_channel.ts";
import { encodeFrame } from "./dialects/msgpack.ts";
import { writeCallFrame } from "./dialects/_small_msgpack.ts";
import { SockdError, Status } from "./errors.ts";

/** Batch buffer kept between bursts; a larger one (grown for big input chunks) is dropped once written. */
const KEEP_BYTES = 64 * 1024;
/** Calls whose frame may be larger than this are encoded by msgpackr. */
const HAND_FRAME_BYTES = 16 * 1024;

/** Batched, in-order frame writer of one client connection. */
export class FrameWriter {
  #conn: ByteChannel;
  #name: string;
  #onFailure: (err: SockdError) => void;
  /**
   * Frames waiting for the next write, encoded in place; while one buffer is
   * written the next batch fills the other (two buffers, swapped: no frame
   * or batch is allocated per call, where encodeFrame + concat made two).
   */
  #out = new Uint8Array(4096);
  #spare = new Uint8Array(4096);
  #len = 0;
  /** Resolves once the queued frames are written (made when someone waits). */
  #queued: PromiseWithResolvers<void> | undefined;
  #writing = false;
  /** Set once a write failed: later frames are not sent. */
  failed: SockdError | undefined;

  /** `onFailure` learns of the first failed write (the connection then has to end). */
  constructor(conn: ByteChannel, name: string, onFailure: (err: SockdError) => void) {
    this.#conn = conn;
    this.#name = name;
    this.#onFailure = onFailure;
  }

  /** Queues `{type: "call", id, command, args, input?, timeout?}`; nobody waits for it. */
  postCall(id: number, command: string, args: readonly string[], input: boolean, timeout?: number): void {
    if (this.failed) return;
    // The most writeCallFrame writes for these arguments (each string at most 255 chars and 2 header bytes).
    const bound = 64 + 258 * (args.length + 1);
    if (!input && bound <= HAND_FRAME_BYTES) {
      this.#grow(this.#len + bound);
      const end = writeCallFrame(this.#out, this.#len, id, command, args, timeout);
      if (end >= 0) return this.#queued1(end);
    }
    // Not a shape written by hand (input, long or non-ASCII strings, a fractional timeout).
    const message: Record<string, unknown> = { type: "call", id, command, args: [...args] };
    if (input) message.input = true;
    if (timeout !== undefined) message.timeout = timeout;
    this.post(message);
  }

  /** Queues a frame; nobody waits for it. */
  post(message: Record<string, unknown>): void {
    if (this.failed) return;
    const frame = encodeFrame(message);
    this.#grow(this.#len + frame.length);
    this.#out.set(frame, this.#len);
    this.#queued1(this.#len + frame.length);
  }

  /** Queues a frame; resolves once it is written, rejects if the write fails. */
  send(message: Record<string, unknown>): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    // The waiter first: the frame may be written at once.
    const written = (this.#queued ??= Promise.withResolvers<void>()).promise;
    this.post(message);
    return written;
  }

  /** The connection is finished with: frames not yet written are dropped, and later ones refused. */
  stop(reason: SockdError): void {
    this.failed ??= reason;
    this.#len = 0;
    this.#queued?.reject(reason);
    this.#queued = undefined;
  }

  /**
   * The batch now ends at `end`. It is written once the code that queued
   * it yields (a microtask later), so frames made in one tick (calls made
   * as a read's answers resolve their callers) go out in one write: the
   * server then reads them in one read as well.
   */
  #queued1(end: number) {
    this.#len = end;
    if (this.#writing || this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(this.#flushSoon);
  }

  #scheduled = false;
  #flushSoon = () => {
    this.#scheduled = false;
    this.#flush();
  };

  /** Makes the batch buffer hold at least `size` bytes, keeping what it holds. */
  #grow(size: number) {
    if (size <= this.#out.length) return;
    const next = new Uint8Array(Math.max(size, this.#out.length * 2));
    next.set(this.#out.subarray(0, this.#len));
    this.#out = next;
  }

  async #flush() {
    if (this.#writing) return;
    this.#writing = true;
    while (this.#len > 0 && !this.failed) {
      const written = this.#out;
      const batch = written.subarray(0, this.#len);
      const done = this.#queued;
      this.#out = this.#spare;
      this.#len = 0;
      this.#queued = undefined;
      try {
        await writeAll(this.#conn, batch);
        done?.resolve();
      } catch (err) {
        const lost = new SockdError(Status.CONN_ERROR, `Connection to ${this.#name} lost`, { cause: err });
        this.failed = lost;
        done?.reject(lost);
        // Frames queued during the failed write will not be sent either.
        (this.#queued as PromiseWithResolvers<void> | undefined)?.reject(lost);
        this.#queued = undefined;
        this.#len = 0;
        this.#onFailure(lost);
      }
      this.#spare = written.length > KEEP_BYTES ? new Uint8Array(4096) : written;
    }
    this.#writing = false;
  }
}

async function writeAll(conn: ByteChannel, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}
