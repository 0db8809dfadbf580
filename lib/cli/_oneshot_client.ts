/**
 * The connection of a plain `sockd call`: lib/client.ts's `Client` cut down
 * to what one call needs (a `help` call first, at most), speaking the same
 * msgpack dialect through _msgpack_lite.ts instead of msgpackr. Its errors
 * and their words are the client's; tests/cli/call_fast_test.ts runs the
 * same calls through both and compares what the user sees.
 *
 * What does not touch msgpackr or `node:` is shared with lib/client.ts
 * through lib/_client_calls.ts (ending calls, sending input, the words of a
 * failed connection). The rest stays a copy on purpose: lib/client.ts's
 * writer and reader (_frame_writer.ts, _client_reader.ts) and its greeting
 * (_handshake.ts) import lib/codec.ts, i.e. msgpackr, which starts Node
 * compatibility; its grace timer is a setTimeout, which loads Deno's Node
 * timers (~5 ms cold), where this one uses AbortSignal.timeout.
 *
 * Why: a cold `sockd call` was 2.6–3.1× an empty `deno run`, most of it
 * modules (msgpackr starts Node compatibility) and code run once
 * (docs/PERFORMANCE.md). Library users and the REPL keep lib/client.ts.
 *
 * @module
 */
import type { Chunk } from "../command.ts";
import type { CallOptions } from "../client.ts";
import { Call } from "../client_call.ts";
import { dialUnix } from "../_dial_unix.ts";
import { FrameDecoder } from "../dialects/_frame_decoder.ts";
import { SockdError, Status } from "../errors.ts";
import type { CallClient } from "./call.ts";
import {
  cancelOnAbort,
  closedByServer,
  endAll,
  endCall,
  mayStart,
  pumpInput,
  readFailure,
  WRITE_FAILURE_GRACE_MS,
} from "../_client_calls.ts";
import { decodeFrameBody, encodeFrame } from "./_msgpack_lite.ts";
import { PREFACE } from "../dialects/_msgpack_bytes.ts";

const MAX_FRAME_BYTES = 16 * 1024 * 1024;
const READ_BYTES = 64 * 1024;

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

/** lib/client.ts's `Client`, for the calls of one `sockd call`: frames go out one at a time, in order. */
class OneShotClient implements CallClient {
  readonly #path: string;
  readonly #conn: Deno.UnixConn;
  readonly #calls = new Map<number, Call>();
  #nextId = 1;
  #dead: SockdError | undefined;
  /** The writes so far, in order. */
  #written: Promise<void> = Promise.resolve();
  #writeFailed: SockdError | undefined;
  /** Stops the grace period after a failed write (armed at the first failure). */
  #stopGrace: (() => void) | undefined;
  /** Until the server's hello has arrived: stops the deadline for it. Then true. */
  #greeted: true | (() => void);

  constructor(path: string, conn: Deno.UnixConn, timeoutMs: number) {
    this.#path = path;
    this.#conn = conn;
    this.#written = this.#writeAll(PREFACE).catch((err) => {
      this.#writeFailed ??= this.#greetingError(err);
      this.#fail(this.#writeFailed);
    });
    // AbortSignal.timeout, not setTimeout: Deno 2.9.6 loads its Node timers on the first
    // setTimeout of a process, ~5 ms of a cold call. Unref'd once its listener is removed.
    const deadline = AbortSignal.timeout(timeoutMs);
    const onTimeout = () => {
      this.#fail(new SockdError(Status.TIMEOUT, `Server at ${path} did not answer within ${timeoutMs} ms`));
      this.close();
    };
    deadline.addEventListener("abort", onTimeout, { once: true });
    this.#greeted = () => deadline.removeEventListener("abort", onTimeout);
    this.#readLoop().finally(this.#greeted);
  }

  call(command: string, args: readonly string[] = [], options: CallOptions = {}): Call {
    const id = this.#nextId++;
    const call = new Call(id, this);
    if (!mayStart(call, this.#dead, options.signal)) return call;
    this.#calls.set(id, call);
    const message: Record<string, unknown> = { type: "call", id, command, args: [...args] };
    if (options.input !== undefined) message.input = true;
    if (options.timeoutMs !== undefined) message.timeout = options.timeoutMs;
    // A failed write ends the call through the connection's failure: nobody waits on this one.
    this.#send(message).catch(() => {});
    if (options.signal) cancelOnAbort(call, options.signal);
    if (options.input !== undefined) pumpInput(call, options.input, (m) => this.#send(m));
    return call;
  }

  /** @internal asks the server to cancel call `id` (see {@linkcode Call.cancel}). */
  _cancel(id: number): void {
    this.#send({ type: "cancel", id }).catch(() => {});
  }

  close(): void {
    this.#fail(new SockdError(Status.CONN_ERROR, "Client closed the connection"));
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  /** Writes a frame after those before it; rejects when the connection is dead or the write fails. */
  #send(message: Record<string, unknown>): Promise<void> {
    if (this.#dead) return Promise.reject(this.#dead);
    if (this.#writeFailed) return Promise.reject(this.#writeFailed);
    const frame = encodeFrame(message);
    const done = this.#written.then(async () => {
      if (this.#writeFailed) throw this.#writeFailed;
      try {
        await this.#writeAll(frame);
      } catch (err) {
        // As lib/client.ts: the server may have closed after explaining why (108 for a frame
        // over its limit), which the read loop must still deliver; if it does not end the
        // connection promptly, the failed write is the answer.
        const lost = new SockdError(Status.CONN_ERROR, `Connection to ${this.#path} lost`, { cause: err });
        this.#writeFailed ??= lost;
        if (!this.#stopGrace) {
          const grace = AbortSignal.timeout(WRITE_FAILURE_GRACE_MS);
          const onGrace = () => this.#fail(lost);
          grace.addEventListener("abort", onGrace, { once: true });
          this.#stopGrace = () => grace.removeEventListener("abort", onGrace);
        }
        throw this.#writeFailed;
      }
    });
    this.#written = done.catch(() => {});
    return done;
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length;) off += await this.#conn.write(bytes.subarray(off));
  }

  /** What _handshake.ts's greet rejects with for `err`, thrown before the hello. */
  #greetingError(err: unknown): SockdError {
    if (err instanceof SockdError) return err;
    return new SockdError(
      Status.CONN_ERROR,
      `Connection to ${this.#path} failed: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }

  /** The server's first frame (or its refusal as a text line): undefined if it is a hello, else why not. */
  #greeting(first: Record<string, unknown> | undefined, bytes: Uint8Array): SockdError | undefined {
    if (first === undefined) {
      // A server refusing before it knows the dialect answers a text line.
      const line = /^error (\d{3}): ([^\n]*)\n/.exec(new TextDecoder().decode(bytes));
      return line ? new SockdError(Number(line[1]), line[2]!, { remote: true }) : undefined;
    }
    if (first.type === "end" && typeof first.status === "number" && first.status !== Status.OK) {
      // Refused before the greeting, e.g. 109 when the socket's connection limit is reached.
      return new SockdError(first.status, String(first.error ?? "Refused"), { remote: true });
    }
    if (first.type !== "hello") {
      const why = first.type === "end" ? `: ${first.error}` : "";
      return new SockdError(Status.CONN_ERROR, `Server at ${this.#path} did not greet${why}`);
    }
    return undefined;
  }

  async #readLoop(): Promise<void> {
    const frames = new FrameDecoder(MAX_FRAME_BYTES);
    const buf = new Uint8Array(READ_BYTES);
    try {
      while (!this.#dead) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        const bytes = buf.subarray(0, n);
        let bodies: Uint8Array[];
        try {
          bodies = frames.push(bytes);
        } catch (err) {
          if (this.#greeted === true) throw err;
          throw this.#greetingError(err);
        }
        if (this.#greeted !== true && bodies.length === 0) {
          const refused = this.#greeting(undefined, bytes);
          if (refused) return this.#fail(refused);
          continue;
        }
        // Bytes values are copies (decodeFrameBody), so the read buffer can be reused.
        for (const body of bodies) {
          if (this.#greeted !== true) {
            let hello;
            try {
              hello = decodeFrameBody(body);
            } catch (err) {
              return this.#fail(this.#greetingError(err));
            }
            const why = this.#greeting(hello, bytes);
            if (why) return this.#fail(why);
            this.#greeted();
            this.#greeted = true;
            continue;
          }
          const wait = this.#onMessage(decodeFrameBody(body));
          if (wait) await wait;
        }
      }
      this.#fail(
        this.#greeted === true ? this.#writeFailed ?? closedByServer(this.#path) : new SockdError(
          Status.CONN_ERROR,
          `Server at ${this.#path} closed the connection before greeting`,
        ),
      );
    } catch (err) {
      this.#fail(this.#greeted !== true ? this.#greetingError(err) : readFailure(err, this.#path));
    } finally {
      try {
        this.#conn.close();
      } catch { /* already closed */ }
    }
  }

  /** One message from the server; a promise when the reader should wait (a call's chunks pile up). */
  #onMessage(msg: Record<string, unknown>): Promise<void> | undefined {
    if (msg.type === "data") return this.#calls.get(msg.id as number)?._data(msg.chunk as Chunk);
    if (msg.type === "end") endCall(msg, this.#calls, (err) => this.#fail(err));
    return undefined;
  }

  #fail(err: SockdError) {
    this.#stopGrace?.();
    if (this.#dead) return;
    this.#dead = err;
    endAll(this.#calls, err);
  }
}
