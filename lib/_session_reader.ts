/**
 * A session's read side: reads the socket into one small buffer (it grows
 * while reads fill it and shrinks back when they do not, so an idle
 * connection holds little), detects the dialect from the first byte (or
 * takes the one a predecessor process handed over), feeds the dialect's
 * synchronous decoder and hands each request to its session, the
 * {@linkcode RequestsHost}, which acts on it.
 *
 * The answers to one read go out in one write, before the next read is
 * asked for; while the client does not read them, reading waits
 * (`_batch_writer.ts`). The handshake deadline is an alarm of
 * `_idle_clock.ts` (one timer for all connections). When the connection
 * moves to a successor process, reading stops at the first clean boundary
 * and leaves the bytes read past it to the move.
 *
 * A function, not an object: the session is the host itself, so the read
 * side adds no object per connection, only its suspended call.
 *
 * @module
 */
import type { Dialect, Event, Request } from "./dialects/dialect.ts";
import { detectDialect, DIALECTS } from "./dialects/detect.ts";
import { Status } from "./errors.ts";
import type { BatchWriter } from "./_batch_writer.ts";
import { Alarm } from "./_idle_clock.ts";
import { type MoveOut, upgradedMarker } from "./_moved_connection.ts";
import type { SessionOptions } from "./session_options.ts";
import type { Transport } from "./transport.ts";

/**
 * Bytes asked for per read: small while a connection is idle or chatty (an
 * idle connection holds its read buffer the whole time), doubling while
 * reads fill the buffer, up to the largest.
 */
const MIN_READ_BYTES = 256;
const MAX_READ_BYTES = 64 * 1024;

const encoder = new TextEncoder();

/** What the read side needs of its session. */
export interface RequestsHost {
  /** Set once the session should stop reading (shutdown, time-out, lost). */
  readonly halted: boolean;
  /** Set by `moveOut`: stop at the next request boundary and leave the rest to the move. */
  readonly moving: MoveOut | undefined;
  /** The write side: the answers to one read go out before the next read. */
  readonly out: BatchWriter;
  /** The dialect is known: the session answers in it from now on, greeting the client first if `greet`. */
  detected(dialect: Dialect, greet: boolean): void;
  /** Handles one request; false ends the connection. A promise when it has to wait. */
  handle(req: Request, dialect: Dialect): boolean | Promise<boolean>;
  /** Queues one event for the client. */
  send(event: Event): void;
  /** Something happened on the connection: restart its idle clock. */
  touch(): void;
  /** Ends a connection that took too long. */
  timeOut(message: string): void;
  /** Reading ended: its idle clock stops. */
  readEnded(): void;
}

/** Reads and handles requests until reading ends; true when calls in flight should be let finish. */
export async function readRequests(
  t: Transport,
  host: RequestsHost,
  options: SessionOptions,
): Promise<boolean> {
  const limits = options.limits;
  // An alarm of the shared clock, not a timer of its own: see _idle_clock.ts.
  let handshake: Alarm | undefined = new Alarm(() =>
    host.timeOut(`No complete request within ${limits.handshakeTimeoutMs} ms`)
  );
  handshake.set(limits.handshakeTimeoutMs);
  try {
    const resume = options.resume;
    let buf = resume?.pending.length ? resume.pending.slice() : new Uint8Array(MIN_READ_BYTES);
    let n: number | null = resume?.pending.length ?? 0;
    const dialects = options.dialects ?? DIALECTS;
    const named = resume?.dialect === undefined ? undefined : dialects.find((d) => d.name === resume.dialect);
    while (n === 0 && !named) {
      n = await t.read(buf);
      if (host.halted || n === null) return false;
      if (n === 0 && host.moving) {
        host.moving.rest = new Uint8Array(0);
        return false;
      }
    }
    const factory = named ?? detectDialect(buf[0]!, dialects);
    if (!factory) {
      host.out.push(encoder.encode(`error ${Status.BAD_REQUEST}: unrecognised protocol\n`), false);
      return false;
    }
    const dialect = factory.create({ limits, hello: options.hello, resume: named && resume!.state });
    host.detected(dialect, !named);
    const decoder = dialect.decoder();
    if (named) {
      handshake.clear();
      handshake = undefined;
      // The persistent calls it followed go on here, each after one marker chunk. An index, not for-of: the
      // iterator's registers stayed in the frame of every suspended read (7 registers: 56 B per idle connection).
      const follow = resume!.follow;
      for (let i = 0; i < follow.length; i++) {
        const f = follow[i]!;
        host.send({ type: "data", id: f.id, chunk: upgradedMarker(Deno.pid) });
        const handled = host.handle({ type: "call", ...f }, dialect);
        if (handled !== true && !(handled !== false && await handled)) return false;
      }
    }
    while (true) {
      decoder.push(buf.subarray(0, n));
      let req: Request | undefined;
      // The idle clock restarts once per read that brings requests, and after each wait.
      let touched = false;
      while ((req = decoder.next()) !== undefined) {
        if (host.halted) return false;
        if (handshake !== undefined) {
          handshake.clear();
          handshake = undefined;
        }
        if (!touched) {
          host.touch();
          touched = true;
        }
        const handled = host.handle(req, dialect);
        if (handled === true) continue;
        if (handled === false || !await handled) return false;
        touched = false;
      }
      // The answers to this read go out now, before the next read is asked for.
      host.out.flushQueued();
      // The client is not reading its answers: read no more requests until it does.
      if (host.out.behind) await host.out.whenTaken();
      // Grow while reads fill the buffer; shrink back when little arrives, so an idle connection holds little.
      if (n === buf.length && buf.length < MAX_READ_BYTES) buf = new Uint8Array(buf.length * 2);
      else if (n < buf.length / 8 && buf.length > MIN_READ_BYTES) buf = new Uint8Array(buf.length / 2);
      if (host.moving) {
        // A clean boundary once the decoder can say where it stands in bytes.
        const rest = decoder.remainder?.();
        if (rest) {
          host.moving.rest = rest;
          return false;
        }
      }
      n = await t.read(buf);
      if (host.halted) return false;
      if (n === null) {
        decoder.end();
        while ((req = decoder.next()) !== undefined) {
          host.touch();
          const handled = host.handle(req, dialect);
          if (!(handled === true || (handled !== false && await handled))) return false;
        }
        return true;
      }
    }
  } catch (err) {
    if (host.halted) return false;
    throw err;
  } finally {
    handshake?.clear();
    host.readEnded();
  }
}
