/**
 * The interface every dialect implements: pure translation between bytes and
 * requests/events. A dialect knows nothing of sockets or commands.
 *
 * @module
 */
import type { Chunk } from "../command.ts";
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

/** Facts a dialect may show a client on connect. */
export interface ServerHello {
  name: string;
  version: string;
}

/** One connection's translator. */
export interface Dialect {
  /** `"text"`, `"jsonl"` or `"msgpack"`. */
  readonly name: string;
  /** Whether calls may run at once on one connection (text runs them in order). */
  readonly concurrent: boolean;
  /** Bytes to send first, if any (msgpack's hello). */
  greeting(): Uint8Array | undefined;
  /** Requests decoded from the client's bytes, in order. */
  decode(source: AsyncIterable<Uint8Array>): AsyncIterable<Request>;
  /** Bytes for one event (may be empty). */
  encode(event: Event): Uint8Array;
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
}
