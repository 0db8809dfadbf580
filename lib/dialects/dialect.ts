/**
 * The interface every dialect implements: pure translation between bytes and
 * requests/events. A dialect knows nothing of sockets or commands.
 *
 * @module
 */
import type { AccessLevel, Chunk } from "../command.ts";
import type { Limits } from "../limits.ts";

/** Correlates a call's events with its request; `null` for connection-level errors. */
export type CallId = number | string | null;

/** What a client asks, decoded from any dialect. */
export type Request =
  | {
    type: "call";
    id: CallId;
    command: string;
    args: string[];
    /** The client will send input chunks for this call. */
    input?: boolean;
    /** Deadline the client asks for, in ms. */
    timeoutMs?: number;
  }
  | { type: "cancel"; id: CallId }
  | { type: "input"; id: CallId; chunk: Uint8Array }
  | { type: "input-end"; id: CallId }
  | { type: "ping"; id?: CallId }
  /** A protocol error the session should answer; `fatal` closes the connection after. */
  | { type: "error"; id: CallId; status: number; message: string; fatal: boolean }
  /** The client asked to close (text `quit`). */
  | { type: "quit" };

/** What the server answers, encoded by any dialect. */
export type Event =
  | { type: "data"; id: CallId; chunk: Chunk }
  | {
    type: "end";
    id: CallId;
    status: number;
    result?: unknown;
    /** Error message, when status is not 0. */
    error?: string;
    details?: Record<string, unknown>;
  }
  | { type: "pong"; id?: CallId };

/** Where {@linkcode Dialect.encodeInto} writes: the end of a buffer of queued answers. */
export interface EncodeSink {
  /** The buffer, with at least `bytes` free from {@linkcode EncodeSink.tail} on. */
  reserve(bytes: number): Uint8Array;
  /** Where the next answer's bytes go in the buffer `reserve` returned. */
  readonly tail: number;
  /** The answer's bytes were written up to `end`: they are queued. */
  commit(end: number): void;
}

/** Facts a dialect may show a client on connect. */
export interface ServerHello {
  name: string;
  version: string;
  /** The access level of the socket the connection came in on. */
  access?: AccessLevel;
}

/** One connection's translator. */
export interface Dialect {
  /** `"text"`, `"jsonl"` or `"msgpack"`. */
  readonly name: string;
  /** Whether calls may run at once on one connection (text runs them in order). */
  readonly concurrent: boolean;
  /** Bytes to send first, if the dialect has any (msgpack's hello). */
  greeting?(): Uint8Array;
  /**
   * A decoder of the client's bytes into requests, for this connection. It is
   * synchronous, for the session that reads the socket itself; over an async
   * source of chunks (tests, tools), use {@linkcode decodeStream}.
   */
  decoder(): RequestDecoder;
  /** Bytes for one event (may be empty). */
  encode(event: Event): Uint8Array;
  /**
   * Like {@linkcode Dialect.encode}, but may answer text, which the caller
   * encodes as UTF-8: the session gathers the text of the answers to one
   * read and encodes it once. Call either this or `encode` for an event,
   * not both (a dialect may keep state per event).
   */
  encodeText?(event: Event): string | Uint8Array;
  /**
   * Like {@linkcode Dialect.encode}, but writes the event's bytes straight
   * into `out`'s buffer, saving the copy of encoded bytes into it; false
   * when the dialect does not write this event so (the caller then encodes
   * it as usual).
   */
  encodeInto?(event: Event, out: EncodeSink): boolean;
  /**
   * For a dialect that sends a bytes chunk verbatim after a header (msgpack's
   * bin, text's raw bytes): the header of a data event of call `id` carrying
   * `chunk`. The caller writes the header and then the chunk, which saves
   * copying the chunk into an encoded event. Dialects without it encode
   * bytes chunks with {@linkcode Dialect.encode}.
   */
  dataHeader?(id: CallId, chunk: Uint8Array): Uint8Array;
  /**
   * What a connection's dialect must carry on from in a successor process
   * (text's prompt mode and where its output stands), as plain JSON; the
   * successor passes it back as {@linkcode DialectOptions.resume}.
   */
  state?(): Record<string, unknown>;
}

/**
 * Turns a connection's bytes into requests, one chunk at a time, without
 * awaiting: `push` a chunk, then call `next` until it returns undefined;
 * only then push the next chunk (`push` may keep views of the chunk until
 * then, so a caller may reuse its read buffer afterwards). Requests are
 * decoded lazily, one per `next`, so a dialect whose requests change its
 * own state (text's `prompt`) sees them in the order the session handles
 * them.
 */
export interface RequestDecoder {
  /** Feeds bytes read from the connection. */
  push(chunk: Uint8Array): void;
  /** The client has sent all it will: `next` yields what the end completes (a last line, an error). */
  end(): void;
  /** The next request, or undefined once the bytes fed so far are used up (or after a fatal error or quit). */
  next(): Request | undefined;
  /** True once the decoder takes no more bytes: after a fatal error, or text's `quit`. */
  readonly done: boolean;
  /**
   * The bytes pushed but not yet decoded (a partial line or frame; for
   * msgpack, the preface first), such that a fresh decoder of the same
   * dialect fed them is where this one is: what moves with a connection
   * handed to a successor process. Undefined when no bytes can say where
   * this decoder is (requests decoded but not yet taken, an over-long line
   * being dropped, done).
   */
  remainder?(): Uint8Array | undefined;
}

/** Requests from an async source of chunks, through a {@linkcode Dialect.decoder}. */
export async function* decodeStream(
  decoder: RequestDecoder,
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<Request, void, undefined> {
  let req: Request | undefined;
  for await (const chunk of source) {
    decoder.push(chunk);
    while ((req = decoder.next()) !== undefined) yield req;
    if (decoder.done) return;
  }
  decoder.end();
  while ((req = decoder.next()) !== undefined) yield req;
}

/** Builds a dialect for a connection whose first byte is known. */
export interface DialectFactory {
  readonly name: string;
  /** Whether a connection starting with `firstByte` speaks this dialect. */
  matches(firstByte: number): boolean;
  create(options: DialectOptions): Dialect;
}

/** What a dialect is built with. */
export interface DialectOptions {
  limits: Limits;
  hello: ServerHello;
  /** A connection handed over by the process this one replaced: its dialect's {@linkcode Dialect.state}. */
  resume?: Record<string, unknown>;
}
