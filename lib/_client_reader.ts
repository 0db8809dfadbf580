/**
 * The client's read side: reads the connection, splits frames, and hands
 * each call its chunks with as few copies and allocations as the caller
 * allows.
 *
 * - Small frames are read into one reused buffer and decoded from it
 *   (copies of any bytes in them).
 * - While a call's large chunks are iterated, each read goes to a fresh
 *   buffer the size of the last frame, so a frame usually arrives whole in
 *   a buffer of its own and its bytes are handed out with no copy.
 * - While a reader waits on a call ({@linkcode Call.readInto}), the rest of
 *   that call's chunk is read from the socket straight into the reader's
 *   buffer, and the next frame's header alone into a small reused one:
 *   nothing is allocated per chunk.
 *
 * @module
 */
import type { ByteChannel } from "./byte_channel.ts";
import type { Call } from "./client_call.ts";
import { decodeFrameBody, readDataHeader } from "./dialects/msgpack.ts";
import { FRAME_HEADER_BYTES, type FrameDecoder, ownsBuffer } from "./dialects/_frame_decoder.ts";
import { readOkEnd, readSmallMap } from "./dialects/_small_msgpack.ts";

/** Bytes read from the socket at a time (one buffer, reused: decoded values are copies). */
const READ_BYTES = 64 * 1024;
/**
 * A frame missing at least this much is read straight into its own buffer
 * (the rest of a streamed chunk), or the waiting reader's.
 */
const DIRECT_READ_BYTES = 16 * 1024;

/** Where the read side delivers. */
export interface FrameSink {
  /** The call in flight with this id. */
  call(id: number): Call | undefined;
  /** Any frame but a call's bytes chunk; a promise when reading should wait. */
  message(msg: Record<string, unknown>): Promise<void> | undefined;
  /** Whether the connection is finished with. */
  dead(): boolean;
}

/** A frame the decoder handed over because a reader waits for its bytes. */
interface Handed {
  call: Call;
  /** The frame's first bytes (a view of the read buffer). */
  part: Uint8Array;
  /** Where its chunk begins in the frame. */
  start: number;
  /** The frame's size. */
  size: number;
}

/** Reads frames from `conn` until it ends (resolves) or fails (rejects). */
export async function readFrames(conn: ByteChannel, frames: FrameDecoder, sink: FrameSink): Promise<void> {
  const buf = new Uint8Array(READ_BYTES);
  const small = new Uint8Array(64);
  /** Bytes of the last large frame (prefix included): a stream's next frame is likely the same size. */
  let guess = 0;
  /** Bytes of the last lent chunk's header (prefix included): the next one is likely as long. */
  let header = 0;
  let handed: Handed | undefined;
  frames.onPartial = (size, part) => {
    if (size - part.length < DIRECT_READ_BYTES) return false;
    const head = readDataHeader(part);
    if (!head || head.start + head.size !== size) return false;
    const call = sink.call(head.id);
    if (!call?._lendTarget()) return false;
    handed = { call, part, start: head.start, size };
    return true;
  };
  while (!sink.dead()) {
    const target = frames.readTarget(DIRECT_READ_BYTES);
    const into = target ?? (header > 0 ? small.subarray(0, header) : guess > 0 ? new Uint8Array(guess) : buf);
    const n = await conn.read(into);
    if (n === null) return;
    const bodies = target ? frames.filled(n) : frames.push(into.subarray(0, n));
    /** Whether frames inside `into` are in memory read into again (then their bytes are copied if kept). */
    const reused = !target && (into.buffer === buf.buffer || into.buffer === small.buffer);
    guess = 0;
    header = 0;
    for (const body of bodies) {
      const large = body.length >= DIRECT_READ_BYTES;
      if (large) guess = FRAME_HEADER_BYTES + body.length;
      // A large frame in a buffer nobody writes again, or one gathered into a buffer of its own, is
      // handed out as views of it; anything else is copied (a small chunk never pins a large buffer).
      const keep = (body.buffer !== into.buffer || !reused) && (large || ownsBuffer(body));
      const head = readDataHeader(body);
      if (head && head.start + head.size === body.length) {
        const wait = sink.call(head.id)?._data(body.subarray(head.start), !keep);
        if (wait) await wait;
        continue;
      }
      const end = readOkEnd(body, 0, body.length);
      const msg = end
        ? { type: "end", id: end.id, status: 0, result: end.result }
        : readSmallMap(body, 0, body.length) ?? decodeFrameBody(body, keep);
      const wait = sink.message(msg);
      if (wait) await wait;
    }
    if (handed) {
      const { call, part, start, size } = handed;
      handed = undefined;
      await lendChunk(conn, call, part.subarray(start), size - part.length);
      header = FRAME_HEADER_BYTES + start;
      guess = 0;
    }
  }
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
