/**
 * The framed msgpack dialect: an 8-byte preface, then u32-length-prefixed
 * msgpack maps. What the sockd client and library speak. See PROTOCOL.md.
 *
 * @module
 */
import { decode, encode, encodeFramed } from "../codec.ts";
import { SockdError, Status } from "../errors.ts";
import type {
  CallId,
  Dialect,
  DialectFactory,
  DialectOptions,
  EncodeSink,
  Event,
  Request,
  RequestDecoder,
} from "./dialect.ts";
import { FRAME_HEADER_BYTES, FrameDecoder, ownsBuffer } from "./_frame_decoder.ts";
import { CHUNK_KEY, DATA_KEYS } from "./_data_header.ts";
import { endFrame, endFrameBound, readCallFrame, readSmallMap, writeEndFrame } from "./_small_msgpack.ts";
import { BIN, frameMap, headBytes, PREFACE, writeHead, writeU32 } from "./_msgpack_bytes.ts";

const KEEP = { keep: true };

/** Protocol version carried in the preface and the hello frame. */
export const PROTOCOL_VERSION = 1;

/**
 * What a msgpack client sends first: NUL, "SOCKD", NUL, version. Its first
 * byte is neither printable ASCII nor `{`, so it cannot be mistaken for text
 * or JSON.
 */
export const MSGPACK_PREFACE: Uint8Array = PREFACE;

/** Encodes one msgpack frame (length prefix + body). */
export function encodeFrame(message: Record<string, unknown>): Uint8Array {
  return encodeFramed(message, FRAME_HEADER_BYTES);
}

/**
 * The frame header of `{type: "data", id, chunk}` whose chunk is `size`
 * bytes (bin): the length prefix, the map up to the bin header. The chunk's
 * bytes follow it on the wire. Byte for byte what {@linkcode encodeFrame}
 * writes for the same message.
 */
export function dataHeader(id: CallId, size: number): Uint8Array {
  const idBytes = encode(id);
  const binHeader = headBytes(BIN, size);
  const headLength = FRAME_HEADER_BYTES + DATA_KEYS.length + idBytes.length + CHUNK_KEY.length + binHeader;
  const out = new Uint8Array(headLength);
  writeU32(out, 0, headLength - FRAME_HEADER_BYTES + size);
  let off = FRAME_HEADER_BYTES;
  out.set(DATA_KEYS, off);
  off += DATA_KEYS.length;
  out.set(idBytes, off);
  off += idBytes.length;
  out.set(CHUNK_KEY, off);
  writeHead(out, off + CHUNK_KEY.length, BIN, size);
  return out;
}

/**
 * Decodes a frame body into a map, or throws BAD_REQUEST. Bytes values are
 * copies, unless `keep`: then they are views of `body`, which must then
 * never be written again (a frame that owns its buffer, see
 * {@linkcode ownsBuffer}).
 */
export function decodeFrameBody(body: Uint8Array, keep = false): Record<string, unknown> {
  return frameMap(body, keep ? decodeKept : decode);
}

function decodeKept(body: Uint8Array): unknown {
  return decode(body, KEEP);
}

function isId(v: unknown): v is CallId {
  return typeof v === "number" || typeof v === "string";
}

/** Turns one decoded frame into a request, or an error request for a bad one. */
function toRequest(msg: Record<string, unknown>): Request {
  const id = isId(msg.id) ? msg.id : null;
  const bad = (message: string): Request => ({
    type: "error",
    id,
    status: Status.BAD_REQUEST,
    message,
    fatal: false,
  });
  switch (msg.type) {
    case "call": {
      if (id === null) return bad("call needs an id (integer or string)");
      if (typeof msg.command !== "string") return bad("call needs a command string");
      const args = msg.args ?? [];
      if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) {
        return bad("call args must be an array of strings");
      }
      const timeout = msg.timeout;
      if (timeout !== undefined && timeout !== null && !(typeof timeout === "number" && timeout >= 0)) {
        return bad("call timeout must be a number of ms");
      }
      return {
        type: "call",
        id,
        command: msg.command,
        args: args as string[],
        input: msg.input === true,
        timeoutMs: typeof timeout === "number" ? timeout : undefined,
      };
    }
    case "cancel":
      return id === null ? bad("cancel needs an id") : { type: "cancel", id };
    case "input": {
      if (id === null) return bad("input needs an id");
      const chunk = msg.chunk;
      if (chunk instanceof Uint8Array) return { type: "input", id, chunk };
      if (typeof chunk === "string") return { type: "input", id, chunk: new TextEncoder().encode(chunk) };
      return bad("input chunk must be bytes or a string");
    }
    case "input-end":
      return id === null ? bad("input-end needs an id") : { type: "input-end", id };
    case "ping":
      return { type: "ping", id };
    default:
      return bad(`Unknown frame type ${JSON.stringify(msg.type)}`);
  }
}

function eventMessage(event: Event): Record<string, unknown> {
  switch (event.type) {
    case "data":
      return { type: "data", id: event.id, chunk: event.chunk };
    case "end":
      return event.status === Status.OK ? { type: "end", id: event.id, status: 0, result: event.result } : {
        type: "end",
        id: event.id,
        status: event.status,
        error: event.error,
        ...(event.details ? { details: event.details } : {}),
      };
    case "pong":
      return { type: "pong", id: event.id ?? null };
  }
}

class MsgpackDialect implements Dialect {
  readonly name = "msgpack";
  readonly concurrent = true;
  #options: DialectOptions;

  constructor(options: DialectOptions) {
    this.#options = options;
  }

  greeting(): Uint8Array {
    return encodeFrame({
      type: "hello",
      protocol: PROTOCOL_VERSION,
      server: this.#options.hello.name,
      version: this.#options.hello.version,
      maxFrame: this.#options.limits.maxFrameBytes,
      ...(this.#options.hello.access ? { access: this.#options.hello.access } : {}),
    });
  }

  decoder(): RequestDecoder {
    return new MsgpackDecoder(this.#options.limits.maxFrameBytes);
  }

  encode(event: Event): Uint8Array {
    // The common answer (an OK end with a scalar result) is written by hand: see _small_msgpack.ts.
    if (event.type === "end" && event.status === Status.OK && event.id !== null) {
      const bytes = endFrame(event.id, event.result);
      if (bytes) return bytes;
    }
    return encodeFrame(eventMessage(event));
  }

  encodeInto(event: Event, out: EncodeSink): boolean {
    if (event.type !== "end" || event.status !== Status.OK || event.id === null) return false;
    const buf = out.reserve(endFrameBound(event.id, event.result));
    const end = writeEndFrame(buf, out.tail, event.id, event.result);
    if (end < 0) return false;
    out.commit(end);
    return true;
  }

  dataHeader(id: CallId, chunk: Uint8Array): Uint8Array {
    return dataHeader(id, chunk.length);
  }
}

/** The msgpack dialect's {@linkcode RequestDecoder}: the preface, then frames. */
class MsgpackDecoder implements RequestDecoder {
  #frames: FrameDecoder;
  /** Bytes of the preface seen so far. */
  #seen = 0;
  #bodies: Uint8Array[] = NO_FRAMES;
  #next = 0;
  /** A fatal error to report after the frames before it. */
  #fatal: Request | undefined;
  #done = false;

  constructor(maxFrameBytes: number) {
    this.#frames = new FrameDecoder(maxFrameBytes);
  }

  get done(): boolean {
    return this.#done;
  }

  push(chunk: Uint8Array): void {
    if (this.#done) return;
    try {
      if (this.#seen < MSGPACK_PREFACE.length) chunk = this.#preface(chunk);
      if (chunk.length === 0) return;
      this.#bodies = this.#frames.push(chunk);
      this.#next = 0;
    } catch (err) {
      this.#fail(err);
    }
  }

  end(): void {
    if (this.#done) return;
    const pending = this.#frames.buffered;
    if (pending > 0) {
      this.#fail(
        new SockdError(Status.BAD_REQUEST, `Connection ended inside a frame (${pending} bytes pending)`),
      );
    }
  }

  remainder(): Uint8Array | undefined {
    if (this.#done || this.#next < this.#bodies.length) return undefined;
    const frame = this.#frames.pending();
    const out = new Uint8Array(this.#seen + frame.length);
    out.set(MSGPACK_PREFACE.subarray(0, this.#seen));
    out.set(frame, this.#seen);
    return out;
  }

  next(): Request | undefined {
    if (this.#next < this.#bodies.length) {
      const body = this.#bodies[this.#next++]!;
      try {
        // Calls as sockd's client writes them, and other small maps of scalars, are read by hand:
        // see _small_msgpack.ts.
        const call = readCallFrame(body, 0, body.length);
        if (call) {
          const { id, command, args, input, timeout } = call;
          return { type: "call", id, command, args, input, timeoutMs: timeout };
        }
        return toRequest(readSmallMap(body, 0, body.length) ?? decodeFrameBody(body, ownsBuffer(body)));
      } catch (err) {
        this.#fail(err);
      }
    }
    const fatal = this.#fatal;
    if (fatal) {
      this.#fatal = undefined;
      return fatal;
    }
    return undefined;
  }

  /** Checks the preface at the front of `chunk`; returns what follows it. */
  #preface(chunk: Uint8Array): Uint8Array {
    const seen = this.#seen;
    const n = Math.min(MSGPACK_PREFACE.length - seen, chunk.length);
    for (let i = 0; i < n; i++) {
      if (chunk[i] !== MSGPACK_PREFACE[seen + i]) {
        throw new SockdError(
          Status.BAD_REQUEST,
          seen + i === MSGPACK_PREFACE.length - 1
            ? `Unsupported protocol version ${chunk[i]} (this server speaks ${PROTOCOL_VERSION})`
            : "Bad msgpack preface",
        );
      }
    }
    this.#seen = seen + n;
    return n === 0 ? chunk : chunk.subarray(n);
  }

  /** A decoding error ends the connection: reported once, after the frames before it. */
  #fail(err: unknown): never | void {
    if (!(err instanceof SockdError)) throw err;
    this.#done = true;
    this.#bodies = NO_FRAMES;
    this.#next = 0;
    this.#fatal = { type: "error", id: null, status: err.status, message: err.message, fatal: true };
  }
}

const NO_FRAMES: Uint8Array[] = [];

/** The msgpack dialect, detected by the preface's NUL first byte. */
export const msgpackDialect: DialectFactory = {
  name: "msgpack",
  matches: (firstByte) => firstByte === MSGPACK_PREFACE[0],
  create: (options) => new MsgpackDialect(options),
};
