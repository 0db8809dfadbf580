/**
 * The client's read side: reads the connection, splits frames, and hands
 * each call its chunks with as few copies and allocations as the caller
 * allows.
 *
 * - Frames are split in the read buffer itself. While nothing in it was
 *   handed out, the buffer is reused: what is left of a frame moves to its
 *   front and the next read follows it.
 * - A large bytes chunk (16 KiB or more) that lies whole in the buffer is
 *   handed to its call as a view of it, with no copy. From then on nobody
 *   writes the bytes before it again: later reads go after them while the
 *   frame under way fits, then into a fresh buffer that holds a few frames
 *   of the size seen last (the frame under way copied to its front). Small
 *   chunks and decoded values are copies, so they never pin a large buffer.
 * - While a reader waits on a call ({@linkcode Call.readInto}), the rest of
 *   that call's chunk is read from the socket straight into the reader's
 *   buffer, and the next frame's header alone after it: nothing is
 *   allocated per chunk.
 *
 * @module
 */
import type { ByteChannel } from "./byte_channel.ts";
import type { Call } from "./client_call.ts";
import { readDataHeader } from "./dialects/_data_header.ts";
import { FRAME_HEADER_BYTES } from "./dialects/_frame_decoder.ts";
import { SockdError, Status } from "./errors.ts";

/** Size of the read buffer while no large frames arrive. */
const READ_BYTES = 64 * 1024;
/**
 * A chunk at least this large is handed out as a view of the read buffer
 * (smaller ones are copied); the rest of a frame this large is read
 * straight into a waiting reader's buffer.
 */
const DIRECT_READ_BYTES = 16 * 1024;
/**
 * A fresh read buffer holds this many frames of the size seen last: one
 * allocation (and one copy of a frame's first part) per this many chunks
 * handed out. A chunk handed out as a view is at least 1/(2 × this) of its
 * buffer (smaller ones are copied), so one the caller keeps pins at most
 * that much memory more. Views instead of a fresh buffer per frame plus a copy of the frame's
 * first part when it straddled reads: iterating 16 MiB of 64 KiB chunks
 * from memory (micro/client_bench.ts) 3.7 -> 2.2-2.4 ms; over a socket the
 * client's CPU 0.55-0.80 -> 0.24-0.36 s per GiB. 2, 8, 16 and 32 frames
 * per buffer measured 2.8, 2.3-2.6, 2.7-3.3 and 3.0-4.8 ms.
 */
const FRAMES_PER_BUFFER = 4;
/** Read buffers are at most this large, unless one frame needs more. */
const MAX_READ_BUFFER = 1024 * 1024;
/** Frames up to this size get their whole buffer at once; a larger one's grows as its bytes arrive. */
const EAGER_BYTES = 1024 * 1024;
/** Fewer free bytes than this after the handed-out ones, and the next read goes to a fresh buffer. */
const MIN_READ = 4 * 1024;

/** Where the read side delivers. */
export interface FrameSink {
  /** The call in flight with this id. */
  call(id: number): Call | undefined;
  /**
   * Delivers `body` if it is an OK end with a scalar result, the most common
   * frame, read by hand (lib/client.ts); false for any other frame, which is
   * then decoded. Without it, ends are decoded as any other frame.
   */
  okEnd?(body: Uint8Array): boolean;
  /** Any other frame but a call's bytes chunk; a promise when reading should wait. */
  message(msg: Record<string, unknown>): Promise<void> | undefined;
  /** Whether the connection is finished with. */
  dead(): boolean;
}

/** Options of {@linkcode readFrames}. */
export interface ReadOptions {
  /** Largest frame body accepted; a longer one rejects with TOO_LARGE. */
  maxFrameBytes: number;
  /** Bytes already read from the connection (the start of a frame after the greeting). */
  pending?: Uint8Array;
  /**
   * Decodes a frame body other than a call's bytes chunk: for lib/client.ts,
   * _small_msgpack.ts's reader of small maps, else msgpackr; for the
   * one-shot `sockd call`, _msgpack_lite.ts's, which loads no npm module.
   */
  decode: (body: Uint8Array) => Record<string, unknown>;
}

/** Reads frames from `conn` until it ends (resolves) or fails (rejects). */
export async function readFrames(conn: ByteChannel, sink: FrameSink, options: ReadOptions): Promise<void> {
  const { maxFrameBytes, decode } = options;
  const pending = options.pending ?? new Uint8Array(0);
  let buf = new Uint8Array(Math.max(READ_BYTES, pending.length));
  buf.set(pending);
  /** Bytes of `buf` not yet split into frames: `[start, end)`. */
  let start = 0;
  let end = pending.length;
  /** Whether views of `buf` were handed out: then nothing before `end` is written again. */
  let shared = false;
  /** Size of the last large frame (prefix included): a stream's next frame is likely the same. */
  let guess = 0;
  /** Bytes of the last lent chunk's header (prefix included): the next one is likely as long. */
  let header = 0;
  while (!sink.dead()) {
    // Every whole frame in the buffer.
    while (end - start >= FRAME_HEADER_BYTES) {
      const size = frameSize(buf, start, maxFrameBytes);
      const stop = start + FRAME_HEADER_BYTES + size;
      if (stop > end) break;
      const body = buf.subarray(start + FRAME_HEADER_BYTES, stop);
      start = stop;
      const head = readDataHeader(body);
      if (head && head.start + head.size === body.length) {
        const call = sink.call(head.id);
        if (!call) continue;
        const chunk = body.subarray(head.start);
        // A chunk a waiting reader takes whole is copied to its buffer; a large one kept is a view.
        const view = chunk.length >= DIRECT_READ_BYTES &&
          2 * FRAMES_PER_BUFFER * chunk.length >= buf.length &&
          !call._takesWhole(chunk.length);
        if (view) shared = true;
        guess = chunk.length >= DIRECT_READ_BYTES ? FRAME_HEADER_BYTES + size : 0;
        const wait = call._data(chunk, !view);
        if (wait) await wait;
        continue;
      }
      guess = 0;
      if (sink.okEnd?.(body)) continue;
      const wait = sink.message(decode(body));
      if (wait) await wait;
    }
    if (sink.dead()) return;
    const have = end - start;
    const total = have >= FRAME_HEADER_BYTES ? FRAME_HEADER_BYTES + frameSize(buf, start, maxFrameBytes) : 0;
    if (total >= FRAME_HEADER_BYTES + DIRECT_READ_BYTES) {
      // The rest of a chunk a reader waits for goes straight to its buffer.
      const part = buf.subarray(start + FRAME_HEADER_BYTES, end);
      const head = readDataHeader(part);
      const call = head && FRAME_HEADER_BYTES + head.start + head.size === total
        ? sink.call(head.id)
        : undefined;
      if (call?._lendTarget()) {
        start = end;
        await lendChunk(conn, call, part.subarray(head!.start), total - have);
        header = FRAME_HEADER_BYTES + head!.start;
        continue;
      }
    }
    if (total >= FRAME_HEADER_BYTES + DIRECT_READ_BYTES) guess = total;
    // The frame under way needs this much room from `start`: all of it, or (above EAGER_BYTES) what has
    // arrived and as much again, so a server announcing a huge frame and sending nothing gets no huge buffer.
    const need = total === 0
      ? FRAME_HEADER_BYTES
      : total <= EAGER_BYTES
      ? total
      : Math.min(total, Math.max(EAGER_BYTES, 2 * have));
    const size = Math.max(
      need,
      guess > 0 ? Math.min(MAX_READ_BUFFER, Math.max(READ_BYTES, FRAMES_PER_BUFFER * guess)) : READ_BYTES,
    );
    // Handed out: read after them while the frame under way fits (a few free bytes only when its size is known).
    const fresh = shared
      ? start + need > buf.length || (total === 0 && buf.length - end < MIN_READ)
      : buf.length < need || buf.length > 2 * size;
    if (fresh) {
      // A fresh buffer: the old one's bytes were handed out (or it is too small, or far too large).
      const next = new Uint8Array(size);
      next.set(buf.subarray(start, end));
      buf = next;
      shared = false;
      start = 0;
      end = have;
    } else if (!shared && start > 0) {
      // Nothing was handed out: the buffer is read into again from its front.
      buf.copyWithin(0, start, end);
      start = 0;
      end = have;
    }
    const into = header > 0 ? buf.subarray(end, Math.min(buf.length, end + header)) : buf.subarray(end);
    header = 0;
    const n = await conn.read(into);
    if (n === null) return;
    end += n;
  }
}

/** The body size in the length prefix at `at`; TOO_LARGE above `max`. */
function frameSize(buf: Uint8Array, at: number, max: number): number {
  const size = ((buf[at]! << 24) >>> 0) + (buf[at + 1]! << 16) + (buf[at + 2]! << 8) + buf[at + 3]!;
  if (size > max) {
    throw new SockdError(Status.TOO_LARGE, `Frame of ${size} bytes exceeds the limit of ${max}`);
  }
  return size;
}

/**
 * A chunk of `call` begins with `part`, and `left` more bytes follow on
 * the wire: they are read into the waiting reader's buffer while there is
 * one (into a buffer of their own once nobody waits).
 */
async function lendChunk(conn: ByteChannel, call: Call, part: Uint8Array, left: number) {
  call._lendPart(part);
  while (left > 0) {
    const to = call._lendTarget();
    if (!to) {
      const rest = new Uint8Array(left);
      for (let got = 0; got < left;) got += await readSome(conn, rest.subarray(got));
      const wait = call._data(rest);
      if (wait) await wait;
      return;
    }
    const m = await readSome(conn, to.length > left ? to.subarray(0, left) : to);
    left -= m;
    call._lent(m, left === 0);
  }
}

async function readSome(conn: ByteChannel, into: Uint8Array): Promise<number> {
  const n = await conn.read(into);
  if (n === null) throw new Error("The connection ended inside a frame");
  return n;
}
