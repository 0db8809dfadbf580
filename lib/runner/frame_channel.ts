/**
 * Length-prefixed msgpack messages over a byte pipe, in both directions:
 * the plugin host's channel to the server. Transport-free: it is given a
 * function that writes bytes and is fed the bytes that were read.
 *
 * Writes are coalesced: messages sent in one turn go out in one write, and
 * no write starts before the previous one has finished.
 *
 * @module
 */
import { concatBytes } from "../_bytes.ts";
import { decode, encodeFramed } from "../codec.ts";
import { FrameDecoder } from "../dialects/_frame_decoder.ts";

/** Writes all of `bytes` (a partial write is the writer's to finish). */
export type WriteAll = (bytes: Uint8Array) => Promise<void>;

/**
 * One end of a framed msgpack pipe.
 *
 * @example
 * ```ts
 * import { FrameChannel } from "./frame_channel.ts";
 * const wire: Uint8Array[] = [];
 * const a = new FrameChannel(async (b) => void wire.push(b.slice()), 1024);
 * a.send({ t: "ping", n: 1 });
 * await a.flushed();
 * const b = new FrameChannel(async () => {}, 1024);
 * const got = wire.flatMap((bytes) => b.feed(bytes));
 * console.assert((got[0] as { n: number }).n === 1);
 * ```
 */
export class FrameChannel {
  #write: WriteAll;
  #decoder: FrameDecoder;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #flushing: Promise<void> | undefined;
  #failed: unknown;

  /** @param maxFrameBytes largest message body accepted from the other side. */
  constructor(write: WriteAll, maxFrameBytes: number) {
    this.#write = write;
    this.#decoder = new FrameDecoder(maxFrameBytes);
  }

  /** Bytes sent but not yet written. */
  get pendingBytes(): number {
    return this.#queued;
  }

  /** Queues one message; throws if the value cannot be encoded. */
  send(message: unknown): void {
    if (this.#failed !== undefined) return;
    const frame = encodeFramed(message, 4);
    this.#queue.push(frame);
    this.#queued += frame.length;
    this.#flushing ??= this.#flush();
  }

  /** Resolves once everything sent so far has been written (or writing failed). */
  async flushed(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  /**
   * Decodes the messages completed by `bytes`. Throws on a frame over the
   * limit or a body that is not one msgpack value: the pipe is then out of
   * step and must be dropped.
   */
  feed(bytes: Uint8Array): unknown[] {
    const frames = this.#decoder.push(bytes);
    if (frames.length === 0) return [];
    return frames.map((f) => decode(f));
  }

  async #flush(): Promise<void> {
    // Let the rest of this turn's messages join the first write.
    await Promise.resolve();
    try {
      while (this.#queue.length > 0) {
        const parts = this.#queue;
        this.#queue = [];
        const bytes = concatBytes(parts);
        await this.#write(bytes);
        this.#queued -= bytes.length;
      }
    } catch (err) {
      this.#failed = err;
      this.#queue = [];
      this.#queued = 0;
    } finally {
      this.#flushing = undefined;
    }
  }
}
