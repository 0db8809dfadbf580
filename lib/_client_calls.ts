/**
 * What every sockd msgpack client does with its calls, whatever writes and
 * reads its frames: ends a call from the server's `end` frame, sends a
 * call's input in pieces, and words a connection that failed. Shared by
 * lib/client.ts and the one-shot `sockd call` (lib/cli/_oneshot_client.ts),
 * so both report the same errors in the same words.
 *
 * It imports nothing from npm or `node:`, and must not: the one-shot call
 * loads it (tests/cli/call_fast_test.ts checks).
 *
 * @module
 */
import type { Chunk } from "./command.ts";
import type { CallOptions } from "./client.ts";
import type { Call } from "./client_call.ts";
import { SockdError, Status } from "./errors.ts";
import { readU32 } from "./dialects/_msgpack_bytes.ts";

/** The calls of a connection by id: a `Map`, or lib/_client_call_table.ts's `CallTable`. */
export interface Calls {
  get(id: number): Call | undefined;
  delete(id: number): boolean;
  values(): Iterable<Call>;
  clear(): void;
}

/** Largest `input` frame a client sends; longer input goes in several. */
const INPUT_PIECE = 64 * 1024;
/** How long a failed write waits for the read loop to report why the server closed. */
export const WRITE_FAILURE_GRACE_MS = 1000;
const encoder = new TextEncoder();

/**
 * Ends `call` at once when the connection is dead (with why) or `signal`
 * has already aborted (CANCELLED); otherwise answers true: it may start.
 */
export function mayStart(call: Call, dead: SockdError | undefined, signal: AbortSignal | undefined): boolean {
  if (dead) call._end(dead);
  else if (signal?.aborted) call._end(new SockdError(Status.CANCELLED, "Cancelled before it started"));
  else return true;
  return false;
}

/** Cancels `call` when `signal` aborts, until the call ends. */
export function cancelOnAbort(call: Call, signal: AbortSignal): void {
  const onAbort = () => call.cancel();
  signal.addEventListener("abort", onAbort, { once: true });
  call.result.finally(() => signal.removeEventListener("abort", onAbort)).catch(() => {});
}

/**
 * Handles an `end` frame from the server: ends the call it names (a remote
 * error unless its status is OK) and forgets it; an end without an id is
 * the server ending the connection, passed to `fail`.
 */
export function endCall(
  msg: Record<string, unknown>,
  calls: Calls,
  fail: (err: SockdError) => void,
): void {
  const id = msg.id;
  const status = typeof msg.status === "number" ? msg.status : Status.BAD_REQUEST;
  const error = status === Status.OK
    ? undefined
    : new SockdError(status, errorText(msg.error, "Call failed"), {
      remote: true,
      details: msg.details as Record<string, unknown> | undefined,
    });
  if (id === null || id === undefined) {
    // A connection-level error: the server closes after it.
    fail(error ?? new SockdError(Status.BAD_REQUEST, "Server ended the connection"));
    return;
  }
  const call = calls.get(id as number);
  calls.delete(id as number);
  call?._end(error, msg.result);
}

/**
 * A `data` frame's chunk; throws BAD_REQUEST (bad data from the server) when
 * it has none, which a call would otherwise get as `undefined` and
 * `sockd call` print as the word "undefined".
 */
export function chunkOf(msg: Record<string, unknown>): Chunk {
  if (msg.chunk === undefined) throw new SockdError(Status.BAD_REQUEST, "a data frame without a chunk");
  return msg.chunk as Chunk;
}

/**
 * A server's `error`: its text, or `fallback` when it sent none or no text
 * (a map printed "[object Object]").
 */
function errorText(error: unknown, fallback: string): string {
  return typeof error === "string" ? error : fallback;
}

/** Ends every call in `calls` with `err` and forgets them: the connection is done. */
export function endAll(calls: Calls, err: SockdError): void {
  for (const call of calls.values()) call._end(err);
  calls.clear();
}

/** What a read loop that threw `err` reports: bad data from the server, or the connection lost. */
export function readFailure(err: unknown, path: string): SockdError {
  return err instanceof SockdError
    ? new SockdError(err.status, `Bad data from server: ${err.message}`)
    : new SockdError(Status.CONN_ERROR, `Connection to ${path} lost`, { cause: err });
}

/**
 * Why a server's first frame is not a greeting: a refusal (an `end` with a
 * status, e.g. 109 when the socket's connection limit is reached) or
 * anything else; undefined for a hello.
 */
export function notAHello(first: Record<string, unknown>, name: string): SockdError | undefined {
  if (first.type === "end" && typeof first.status === "number" && first.status !== Status.OK) {
    return new SockdError(first.status, errorText(first.error, "Refused"), { remote: true });
  }
  if (first.type === "hello") return undefined;
  const why = first.type === "end" ? `: ${errorText(first.error, "an end")}` : "";
  return new SockdError(Status.CONN_ERROR, `Server at ${name} did not greet${why}`);
}

/**
 * Why a server whose first frame does not decode (`err`: msgpack that is not
 * one map with a type) did not greet: a connection error naming the server,
 * not the decoder's BAD_REQUEST, which would read as our request refused (102, exit 6).
 */
export function undecodableHello(err: unknown, name: string): SockdError {
  const message = (err as Error).message;
  const why = message.length > 0 ? message[0]!.toLowerCase() + message.slice(1) : "undecodable";
  return new SockdError(Status.CONN_ERROR, `Server at ${name} did not greet: ${why}`, { cause: err });
}

/** The largest hello a client accepts (a hello is a few hundred bytes). */
export const MAX_HELLO_BYTES = 64 * 1024;
/** How much of a server's first line is read before judging it. */
const FIRST_LINE_BYTES = 256;

/**
 * What a server's first bytes (all of them so far; `ended` once it closed)
 * say before its hello: `"frame"` when they begin a frame the size of a
 * hello, `"more"` when it is too early to tell, else why they cannot begin
 * a greeting. A first line is read whole (up to 256 bytes) before it is
 * judged: a refusal line arrives in pieces through a relay.
 */
export function greetingStart(
  head: Uint8Array,
  name: string,
  ended: boolean,
): "frame" | "more" | SockdError {
  if (head.length < 4) return "more";
  const size = readU32(head, 0);
  if (size <= MAX_HELLO_BYTES) return "frame";
  if (!head.subarray(0, 4).every((c) => c >= 0x20 && c < 0x7f)) {
    // Not text: a frame, only too large for a hello.
    return new SockdError(
      Status.CONN_ERROR,
      `Server at ${name} did not greet: its first frame is ${size} bytes, more than a hello's ${MAX_HELLO_BYTES}`,
    );
  }
  if (!ended && head.length < FIRST_LINE_BYTES && !head.includes(0x0a)) return "more";
  return unframedGreeting(head, name);
}

/**
 * Why a server's first bytes cannot begin a greeting: a refusal as a text
 * line (`error 109: …`, from a server refusing before it knew the client's
 * dialect), or a server of another kind, whose first line is quoted.
 */
function unframedGreeting(bytes: Uint8Array, name: string): SockdError {
  const text = new TextDecoder().decode(bytes.subarray(0, 256));
  // A status of sockd's is 100 or more: "error 000" would make a refused call exit 0.
  const line = /^error ([1-9]\d\d): ([^\n]*)\n/.exec(text);
  if (line) return new SockdError(Number(line[1]), line[2]!, { remote: true });
  const first = text.split(/\r?\n/)[0]!.replace(/[^\x20-\x7e]/g, "?").slice(0, 60);
  return new SockdError(
    Status.CONN_ERROR,
    `Server at ${name} did not greet: it sent "${first}"; is it a sockd socket?`,
  );
}

/** What a connection that the server closed reports. */
export function closedByServer(path: string): SockdError {
  return new SockdError(Status.CONN_ERROR, `Server at ${path} closed the connection`);
}

/**
 * Sends `input` as the call's `input` frames through `send`, then
 * `input-end`; stops quietly when the call or the connection ends (the
 * call's result says how).
 */
export async function pumpInput(
  call: Call,
  input: NonNullable<CallOptions["input"]>,
  send: (message: Record<string, unknown>) => Promise<void>,
): Promise<void> {
  const id = call.id;
  try {
    for await (const chunk of asChunks(input)) {
      if (call.ended) return;
      for (let off = 0; off < chunk.length; off += INPUT_PIECE) {
        await send({ type: "input", id, chunk: chunk.subarray(off, off + INPUT_PIECE) });
      }
    }
    if (!call.ended) await send({ type: "input-end", id });
  } catch {
    // The call or connection ended; its result says how.
  }
}

async function* asChunks(input: NonNullable<CallOptions["input"]>): AsyncGenerator<Uint8Array> {
  if (typeof input === "string") yield encoder.encode(input);
  else if (input instanceof Uint8Array) yield input;
  else for await (const chunk of input as AsyncIterable<Uint8Array>) yield chunk;
}
