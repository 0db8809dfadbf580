/**
 * The connection of a plain `sockd call`: lib/client.ts's `Client` cut down
 * to what one call needs (a `help` call first, at most), speaking the same
 * msgpack dialect through _msgpack_lite.ts instead of msgpackr. Its errors
 * and their words are the client's; tests/cli/call_fast_test.ts runs the
 * same calls through both and compares what the user sees.
 *
 * What does not touch msgpackr or `node:` is shared with lib/client.ts: the
 * frame reader (_client_reader.ts, given _msgpack_lite.ts's decoder), and
 * through lib/_client_calls.ts ending calls, sending input, judging the
 * greeting and the words of a failed connection. The rest stays a copy on
 * purpose: lib/client.ts's writer (_frame_writer.ts) and greeting
 * (_handshake.ts) import lib/codec.ts, i.e. msgpackr, which starts Node
 * compatibility; its grace timer is a setTimeout, which loads Deno's Node
 * timers (~5 ms cold), where this one uses _abortable.ts's `after`.
 *
 * Why: a cold `sockd call` was 2.6–3.1× an empty `deno run`, most of it
 * modules (msgpackr starts Node compatibility) and code run once
 * (docs/PERFORMANCE.md). Library users and the REPL keep lib/client.ts.
 *
 * @module
 */
import type { CallOptions } from "../client.ts";
import { Call } from "../client_call.ts";
import { after } from "../_abortable.ts";
import { concatBytes } from "../_bytes.ts";
import { dialUnix } from "../_dial_unix.ts";
import { readFrames } from "../_client_reader.ts";
import { FRAME_HEADER_BYTES } from "../dialects/_frame_decoder.ts";
import { SockdError, Status } from "../errors.ts";
import type { CallClient } from "./call.ts";
import {
  cancelOnAbort,
  chunkOf,
  closedByServer,
  endAll,
  endCall,
  greetingStart,
  MAX_HELLO_BYTES,
  mayStart,
  notAHello,
  pumpInput,
  readFailure,
  undecodableHello,
  WRITE_FAILURE_GRACE_MS,
} from "../_client_calls.ts";
import { decodeFrameBody, encodeFrame } from "./_msgpack_lite.ts";
import { PREFACE, readU32 } from "../dialects/_msgpack_bytes.ts";

const MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** The greeting is a few hundred bytes; what follows it is read by _client_reader.ts. */
const GREETING_READ_BYTES = 4096;

/**
 * Connects to the server at `path` (after the trust checks of
 * lib/_dial_unix.ts), as lib/client.ts's `connect` does, but without waiting
 * for the server's hello: the preface goes out with the first call, so that
 * a call costs the server one wake-up, not two. The hello is checked when it
 * arrives, with _handshake.ts's rules and words (a refusal, a text error
 * line, no hello within `timeoutMs`), and a failed greeting fails the calls
 * made meanwhile: `sockd call` prints the same either way.
 */
export async function connectOneShot(
  path: string,
  options: { timeoutMs: number; trustOwner?: number },
): Promise<CallClient> {
  const conn = await dialUnix(path, { trustOwner: options.trustOwner });
  return new OneShotClient(path, conn, options.timeoutMs);
}

/**
 * lib/client.ts's `Client`, for the calls of one `sockd call`: frames go out one at a time, in
 * order. Its work is done by plain functions over its state ({@linkcode Link}): install.ts's
 * eagerFunctions puts top-level functions in the installed bundle's code cache, while class
 * methods are parsed and compiled again on every run (0.10 and 0.24 ms less CPU of a cold call in
 * two A/B runs of 60 and 80, load 5: small, as the methods are; the reader in _msgpack_lite.ts
 * gained more).
 */
class OneShotClient implements CallClient {
  readonly #link: Link;

  constructor(path: string, conn: Deno.UnixConn, timeoutMs: number) {
    this.#link = {
      path,
      conn,
      calls: new Map(),
      nextId: 1,
      dead: undefined,
      written: Promise.resolve(),
      writeFailed: undefined,
      stopGrace: undefined,
      greeted: () => {},
      preface: PREFACE,
      queued: [],
      next: undefined,
    };
    openLink(this.#link, timeoutMs);
  }

  call(command: string, args: readonly string[] = [], options: CallOptions = {}): Call {
    return startCall(this.#link, this, command, args, options);
  }

  /** @internal asks the server to cancel call `id` (see {@linkcode Call.cancel}). */
  _cancel(id: number): void {
    sendFrame(this.#link, { type: "cancel", id }).catch(() => {});
  }

  close(): void {
    closeLink(this.#link);
  }
}

/** A one-shot connection's state. */
interface Link {
  readonly path: string;
  readonly conn: Deno.UnixConn;
  readonly calls: Map<number, Call>;
  nextId: number;
  dead: SockdError | undefined;
  /** The writes so far, in order. */
  written: Promise<void>;
  writeFailed: SockdError | undefined;
  /** Stops the grace period after a failed write (armed at the first failure). */
  stopGrace: (() => void) | undefined;
  /** Until the server's hello has arrived: stops the deadline for it. Then true. */
  greeted: true | (() => void);
  /** The preface, until it goes out in front of the first frame. */
  preface: Uint8Array | undefined;
  /** Frames for the next write, which has not started yet: it takes them all. */
  queued: Uint8Array[];
  /** That next write, once a frame waits for it. */
  next: Promise<void> | undefined;
}

/**
 * Arms the deadline for the hello and starts reading. The preface goes out with the first frame,
 * in one write: the server's answer then needs one wake-up and one read (a cold `sockd call`:
 * one write op and one turn of the event loop less).
 */
function openLink(link: Link, timeoutMs: number): void {
  // The cheap timer of _abortable.ts: no Node timers, no EventTarget.
  link.greeted = after(timeoutMs, () => {
    failLink(
      link,
      new SockdError(Status.TIMEOUT, `Server at ${link.path} did not answer within ${timeoutMs} ms`),
    );
    closeLink(link);
  });
  readLoop(link).finally(link.greeted);
}

function startCall(
  link: Link,
  owner: OneShotClient,
  command: string,
  args: readonly string[],
  options: CallOptions,
): Call {
  const id = link.nextId++;
  const call = new Call(id, owner);
  if (!mayStart(call, link.dead, options.signal)) return call;
  link.calls.set(id, call);
  const message: Record<string, unknown> = { type: "call", id, command, args: [...args] };
  if (options.input !== undefined) message.input = true;
  if (options.timeoutMs !== undefined) message.timeout = options.timeoutMs;
  // A failed write ends the call through the connection's failure: nobody waits on this one.
  sendFrame(link, message).catch(() => {});
  if (options.signal) cancelOnAbort(call, options.signal);
  if (options.input !== undefined) pumpInput(call, options.input, (m) => sendFrame(link, m));
  return call;
}

function closeLink(link: Link): void {
  failLink(link, new SockdError(Status.CONN_ERROR, "Client closed the connection"));
  try {
    link.conn.close();
  } catch { /* already closed */ }
}

/**
 * Writes a frame after those before it; rejects when the connection is dead or the write fails.
 * Frames sent before the next write starts go out in it together: `sockd call` sends its `help`
 * and its call in the same turn, and the server, reading both at once, answers both in one write,
 * which the client reads at once (a cold call: one write and one read less on each side).
 */
function sendFrame(link: Link, message: Record<string, unknown>): Promise<void> {
  if (link.dead) return Promise.reject(link.dead);
  if (link.writeFailed) return Promise.reject(link.writeFailed);
  link.queued.push(encodeFrame(message, link.preface));
  link.preface = undefined;
  if (link.next) return link.next;
  const done = link.written.then(async () => {
    link.next = undefined;
    const frames = link.queued.splice(0);
    if (link.writeFailed) throw link.writeFailed;
    try {
      await writeAll(link, concatBytes(frames));
    } catch (err) {
      // As lib/client.ts: the server may have closed after explaining why (108 for a frame
      // over its limit), which the read loop must still deliver; if it does not end the
      // connection promptly, the failed write is the answer.
      const lost = link.greeted === true
        ? new SockdError(Status.CONN_ERROR, `Connection to ${link.path} lost`, { cause: err })
        : greetingError(link, err);
      link.writeFailed ??= lost;
      if (!link.stopGrace) {
        link.stopGrace = after(WRITE_FAILURE_GRACE_MS, () => failLink(link, lost));
      }
      throw link.writeFailed;
    }
  });
  link.next = done;
  link.written = done.catch(() => {});
  return done;
}

async function writeAll(link: Link, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await link.conn.write(bytes.subarray(off));
}

/** What _handshake.ts's greet rejects with for `err`, thrown before the hello. */
function greetingError(link: Link, err: unknown): SockdError {
  if (err instanceof SockdError) return err;
  return new SockdError(
    Status.CONN_ERROR,
    `Connection to ${link.path} failed: ${(err as Error).message}`,
    {
      cause: err,
    },
  );
}

function closedEarly(link: Link): SockdError {
  return new SockdError(Status.CONN_ERROR, `Server at ${link.path} closed the connection before greeting`);
}

/**
 * Reads the server's greeting, then hands the connection to lib/client.ts's
 * reader (_client_reader.ts), which reads a large chunk straight into the
 * buffer of a waiting `readInto`: `sockd call` streams output with no
 * allocation and no copy per chunk of its own.
 */
async function readLoop(link: Link): Promise<void> {
  try {
    const pending = await readGreeting(link);
    if (pending === undefined) return;
    await readFrames(link.conn, {
      call: (id) => link.calls.get(id),
      message: (msg) => onMessage(link, msg),
      dead: () => link.dead !== undefined,
    }, { maxFrameBytes: MAX_FRAME_BYTES, pending, decode: decodeFrameBody });
    failLink(link, link.writeFailed ?? closedByServer(link.path));
  } catch (err) {
    // A server that closes before greeting without reading the call (sent with the preface) resets
    // the connection: to the user, it closed the connection, as the full client reports it.
    const early = err instanceof Deno.errors.ConnectionReset ? closedEarly(link) : greetingError(link, err);
    failLink(link, link.greeted !== true ? early : readFailure(err, link.path));
  } finally {
    try {
      link.conn.close();
    } catch { /* already closed */ }
  }
}

/**
 * Reads until the server's hello and checks it as _handshake.ts does (a refusal, a text line, a
 * server of another kind); returns the bytes after it, for the reader, or undefined when the
 * link failed.
 */
async function readGreeting(link: Link): Promise<Uint8Array | undefined> {
  // Room for the largest hello and one read past it: bytes are read in place, never gathered, so a
  // server trickling its hello a byte at a time costs no copying.
  const buf = new Uint8Array(FRAME_HEADER_BYTES + MAX_HELLO_BYTES + GREETING_READ_BYTES);
  let have = 0;
  while (!link.dead) {
    const n = await link.conn.read(buf.subarray(have, have + GREETING_READ_BYTES));
    if (n === null) {
      const why = greetingStart(buf.subarray(0, have), link.path, true);
      return void failLink(link, why instanceof SockdError ? why : closedEarly(link));
    }
    have += n;
    const start = greetingStart(buf.subarray(0, have), link.path, false);
    if (start === "more") continue;
    if (start !== "frame") return void failLink(link, start);
    const end = FRAME_HEADER_BYTES + readU32(buf, 0);
    if (have < end) continue;
    let hello;
    try {
      hello = decodeFrameBody(buf.subarray(FRAME_HEADER_BYTES, end));
    } catch (err) {
      return void failLink(link, undecodableHello(err, link.path));
    }
    const why = notAHello(hello, link.path);
    if (why) return void failLink(link, why);
    const stop = link.greeted;
    if (stop !== true) stop();
    link.greeted = true;
    return buf.slice(end, have);
  }
  return undefined;
}

/** One message from the server; a promise when the reader should wait (a call's chunks pile up). */
function onMessage(link: Link, msg: Record<string, unknown>): Promise<void> | undefined {
  if (msg.type === "data") return link.calls.get(msg.id as number)?._data(chunkOf(msg));
  if (msg.type === "end") endCall(msg, link.calls, (err) => failLink(link, err));
  return undefined;
}

function failLink(link: Link, err: SockdError): void {
  link.stopGrace?.();
  if (link.dead) return;
  link.dead = err;
  endAll(link.calls, err);
}
