/**
 * The framed msgpack dialect: an 8-byte preface, then u32-length-prefixed
 * msgpack maps. What the sockd client and library speak. See PROTOCOL.md.
 *
 * @module
 */
import { decode, encode } from "../codec.ts";
import { SockdError, Status } from "../errors.ts";
import type { CallId, Dialect, DialectFactory, DialectOptions, Event, Request } from "./dialect.ts";
import { frame, FrameDecoder } from "./_frame_decoder.ts";

/** Protocol version carried in the preface and the hello frame. */
export const PROTOCOL_VERSION = 1;

/**
 * What a msgpack client sends first: NUL, "SOCKD", NUL, version. Its first
 * byte is neither printable ASCII nor `{`, so it cannot be mistaken for text
 * or JSON.
 */
export const MSGPACK_PREFACE: Uint8Array = new Uint8Array([
  0x00,
  0x53,
  0x4f,
  0x43,
  0x4b,
  0x44,
  0x00,
  PROTOCOL_VERSION,
]);

/** Encodes one msgpack frame (length prefix + body). */
export function encodeFrame(message: Record<string, unknown>): Uint8Array {
  return frame(encode(message));
}

/** Decodes a frame body into a map, or throws BAD_REQUEST. */
export function decodeFrameBody(body: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = decode(body);
  } catch (err) {
    throw new SockdError(
      Status.BAD_REQUEST,
      `Undecodable msgpack frame: ${err instanceof Error ? err.message : err}`,
    );
  }
  if (!value || typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) {
    throw new SockdError(Status.BAD_REQUEST, "A frame must be a msgpack map with a type field");
  }
  return value as Record<string, unknown>;
}

/** Reads the preface from the front of a byte stream; yields what follows it. */
async function* afterPreface(
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array, void, undefined> {
  let seen = 0;
  for await (const chunk of source) {
    if (seen >= MSGPACK_PREFACE.length) {
      yield chunk;
      continue;
    }
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
    seen += n;
    if (n < chunk.length) yield chunk.subarray(n);
  }
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
    });
  }

  async *decode(source: AsyncIterable<Uint8Array>): AsyncGenerator<Request> {
    const frames = new FrameDecoder(this.#options.limits.maxFrameBytes);
    try {
      for await (const chunk of afterPreface(source)) {
        for (const body of frames.push(chunk)) {
          yield toRequest(decodeFrameBody(body));
        }
      }
    } catch (err) {
      if (!(err instanceof SockdError)) throw err;
      yield { type: "error", id: null, status: err.status, message: err.message, fatal: true };
      return;
    }
    if (frames.buffered > 0) {
      yield {
        type: "error",
        id: null,
        status: Status.BAD_REQUEST,
        message: `Connection ended inside a frame (${frames.buffered} bytes pending)`,
        fatal: true,
      };
    }
  }

  encode(event: Event): Uint8Array {
    return encodeFrame(eventMessage(event));
  }
}

/** The msgpack dialect, detected by the preface's NUL first byte. */
export const msgpackDialect: DialectFactory = {
  name: "msgpack",
  matches: (firstByte) => firstByte === MSGPACK_PREFACE[0],
  create: (options) => new MsgpackDialect(options),
};
