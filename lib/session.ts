/**
 * One connection: its read side (`_session_reader.ts`) reads requests and
 * detects the dialect; the session acts on each request, hands calls to
 * `_session_calls.ts` and writes events back through `_event_writer.ts`,
 * enforces the connection's time limits, and can move out to a successor
 * process (`moveOut`) or resume where a predecessor left it.
 *
 * The answers to one read go out in one write; `_batch_writer.ts` batches
 * them and holds calls and reading back while the client does not read. The
 * idle clock and the handshake deadline are alarms of `_idle_clock.ts` (one
 * timer for all connections).
 *
 * @module
 */
import type { AccessLevel } from "./command.ts";
import type { Dialect, Event, Request } from "./dialects/dialect.ts";
import { SockdError, Status } from "./errors.ts";
import { isDrop } from "./_conn_transport.ts";
import { BatchWriter } from "./_batch_writer.ts";
import { type CallsHost, SessionCalls } from "./_session_calls.ts";
import { readRequests, type RequestsHost } from "./_session_reader.ts";
import { writeEvent } from "./_event_writer.ts";
import { IdleClock } from "./_idle_clock.ts";
import type { SessionOptions } from "./session_options.ts";
import type { Transport } from "./transport.ts";
import { type Handoff, MoveOut } from "./_moved_connection.ts";

export type { CallPool, SessionOptions } from "./session_options.ts";
export type { Transport } from "./transport.ts";

const encoder = new TextEncoder();

/** One connection's life. */
export class Session implements CallsHost, RequestsHost {
  readonly id: number;
  /** When it connected, ms since the epoch: a number, not a `Date` (80 B less per connection). */
  readonly #since: number = Date.now();
  #t: Transport;
  #o: SessionOptions;
  #dialect: Dialect | undefined;
  /** The calls (made on the first call request: a connection that never calls has none). */
  #calls: SessionCalls | undefined;
  /** `run`'s promise once running: shutdown waits for the connection to be closed. */
  #ran: Promise<void> | undefined;
  #broken = false;
  #stopping = false;
  /** Set once the session should stop reading (shutdown, time-out, lost); wakes `run`. */
  #halted = false;
  #wake: ((finish: boolean) => void) | undefined;
  /** Made on the first activity that restarts it. */
  #idle: IdleClock | undefined;
  /** The last clock reading (on each read that brings requests, and as calls end); see `CallEnv.clock`. */
  #clock: { at: number } | undefined;
  /** The write side: answers queued while a write is under way go out together, in one buffer. */
  #out: BatchWriter;
  #wentAway = false;
  /** Set by `moveOut`: stop at the next request boundary and hand the connection over. */
  #move: MoveOut | undefined;

  constructor(transport: Transport, options: SessionOptions) {
    this.id = options.id;
    this.#t = transport;
    this.#o = options;
    // A bound method, not an arrow: the arrow kept the constructor's context too (46 B per connection).
    this.#out = new BatchWriter(transport, this.lost.bind(this));
  }

  /** When it connected. */
  get since(): Date {
    return new Date(this.#since);
  }

  /** The detected dialect's name, or `"?"` before the first bytes arrive. */
  get dialect(): string {
    return this.#dialect?.name ?? "?";
  }

  /** Commands running now. */
  get callsInFlight(): number {
    return this.#calls?.inFlight ?? 0;
  }

  /** The calls running now (those that did not finish at once): command and milliseconds so far. */
  running(): { command: string; ms: number }[] {
    return this.#calls?.running() ?? [];
  }

  /** The socket path the connection came in on. */
  get listener(): string {
    return this.#o.listener;
  }

  /** The level of access of the connection. */
  get access(): AccessLevel {
    return this.#o.access;
  }

  /**
   * Takes the connection out of this session for a successor process, at a
   * clean boundary: reading stops once the requests read so far are
   * handled; calls of `persistent` commands stop here without an answer (they
   * re-run there); the other calls finish here; what they wrote reaches the
   * socket. Resolves with the socket and what moves with it, or undefined
   * when it cannot move (its transport has no descriptor, it ended or broke).
   */
  moveOut(): Promise<Handoff | undefined> {
    if (this.#move) return this.#move.promise;
    if (!this.#t.detach || this.#halted || this.#broken) return Promise.resolve(undefined);
    const move = this.#move = new MoveOut();
    this.#calls?.moveOut(move);
    this.#t.interrupt?.();
    return move.promise;
  }

  /** Serves the connection until it ends; never throws. */
  run(): Promise<void> {
    return this.#ran ??= this.#run();
  }

  async #run(): Promise<void> {
    let moved = false;
    try {
      // `then` also handles a late rejection once woken; `#wake` is `resolve` itself. A `catch` and a
      // closure less per connection: a promise, a reaction, two closures and a context (~250 B per idle one).
      const serving = readRequests(this.#t, this, this.#o);
      const finish = await new Promise<boolean>((resolve, reject) => {
        this.#wake = resolve;
        if (this.#halted) resolve(false);
        serving.then(resolve, reject);
      });
      this.#wake = undefined;
      if (this.#move?.rest && (moved = await this.#handOff(this.#move))) return;
      // The client has sent all it will (or half-closed): answer what is in flight.
      // On shutdown, shutdown() decides when the rest are cancelled.
      if (finish || this.#stopping) await this.#allDone();
    } catch (err) {
      if (isDrop(err)) this.#dropped(err);
      else this.#o.logger.warn("Connection failed", { conn: this.id, error: String(err) });
    } finally {
      if (!moved) {
        this.#move?.cancel();
        this.#halt();
        this.#cancelAll(new SockdError(Status.CANCELLED, "Connection closed"));
        await this.#allDone();
        await this.#close();
      }
    }
  }

  /** At the boundary: lets the calls that stay finish and their answers go out, then hands over. */
  async #handOff(move: MoveOut): Promise<boolean> {
    await this.#allDone();
    try {
      await this.#out.drained();
    } catch {
      return false;
    }
    if (this.#broken || this.#halted) return false;
    this.#calls?.close();
    this.#idle?.stop();
    move.handOff(this.#t, this.#dialect);
    return true;
  }

  /**
   * Stops reading new requests, lets calls finish for up to `drainMs`, then
   * cancels the rest with CANCELLED (106) and closes.
   */
  async shutdown(drainMs: number): Promise<void> {
    this.#stopping = true;
    this.#halt();
    await this.#calls?.drain(drainMs, () => this.#t.close());
    // The last answers are out before the server may exit: a node:net socket's write callback can run
    // before its bytes leave, so a server stopping right after a call ended lost that call's end. A
    // client that does not read them is closed after another drainMs.
    const late = setTimeout(() => this.#t.close(), drainMs);
    try {
      await this.#ran;
    } finally {
      clearTimeout(late);
    }
  }

  #allDone(): Promise<unknown> {
    return this.#calls?.allDone() ?? Promise.resolve();
  }

  /** Stops reading: `run` goes on to finish the calls and close. The pending read ends when the socket closes. */
  #halt() {
    if (this.#halted) return;
    this.#halted = true;
    this.#idle?.halt();
    this.#wake?.(false);
  }

  // What its read side tells the session and asks of it (RequestsHost, in _session_reader.ts).

  /** Whether the session stopped reading (shutdown, time-out, lost). */
  get halted(): boolean {
    return this.#halted;
  }

  /** The move under way, once `moveOut` was called. */
  get moving(): MoveOut | undefined {
    return this.#move;
  }

  /** The write side. */
  get out(): BatchWriter {
    return this.#out;
  }

  /** The dialect is known: answers go out in it from now on; the client is greeted first if `greet`. */
  detected(dialect: Dialect, greet: boolean): void {
    this.#dialect = dialect;
    this.#o.onDialect?.(dialect.name);
    if (greet) this.#greet(dialect);
  }

  /**
   * Sends the dialect's greeting, if it has one. Not a local of `readRequests`: a suspended async function
   * keeps its locals, and an idle connection kept its greeting (its buffer view: 230 B per idle msgpack connection).
   */
  #greet(dialect: Dialect) {
    const greeting = dialect.greeting?.();
    if (greeting) this.#out.push(greeting, false);
  }

  /** Handles one request; false ends the connection. A promise when it has to wait. */
  handle(req: Request, dialect: Dialect): boolean | Promise<boolean> {
    switch (req.type) {
      case "call": {
        if (this.#move && !req.input && this.#o.dispatcher.isPersistent(req.command)) {
          // Read before the move: it follows in the successor.
          this.#move.add(req);
          return true;
        }
        const task = (this.#calls ??= this.#newCalls()).start(req);
        if (task && !dialect.concurrent) return task.then(() => true);
        return true;
      }
      case "cancel":
      case "input":
      case "input-end":
        return this.#calls?.request(req) ?? true;
      case "ping":
        this.send({ type: "pong", id: req.id });
        return true;
      case "error":
        this.send({ type: "end", id: req.id, status: req.status, error: req.message });
        return !req.fatal;
      case "quit":
        return false;
    }
  }

  // What its calls tell the session (CallsHost): the session is their host itself, with no object of its own
  // between (a connection that called holds ~290 B less than with four arrows and their context).

  /** Queues one event; a data event that cannot be encoded ends its call with 105 instead. */
  send(event: Event): void {
    if (this.#broken) return;
    try {
      writeEvent(this.#out, this.#dialect!, event);
    } catch (err) {
      if (event.type !== "data") throw err;
      this.#calls?.get(event.id)?.call.abort(
        new SockdError(Status.HANDLER_ERROR, `Command produced a chunk that cannot be sent: ${err}`),
      );
    }
  }

  lost(err: unknown): void {
    if (this.#broken) return;
    this.#broken = true;
    const lostError = new SockdError(Status.CONN_ERROR, "Connection lost", { cause: err });
    this.#dropped(err);
    this.#cancelAll(new SockdError(Status.CANCELLED, "Client disconnected"));
    this.#out.lose(lostError);
    this.#halt();
  }

  /** Whether the connection broke: a call's events then go nowhere. */
  broken(): boolean {
    return this.#broken;
  }

  #dropped(err: unknown) {
    if (this.#wentAway) return;
    this.#wentAway = true;
    this.#o.logger.debug("Client went away", { conn: this.id, error: String(err) });
    this.#o.onDropped?.();
  }

  #cancelAll(reason: SockdError) {
    this.#calls?.cancelAll(reason);
  }

  /** The calls' view of this session: what they send, and what they tell it. */
  #newCalls(): SessionCalls {
    return new SessionCalls(this.#o, {
      out: this.#out,
      host: this,
      dialect: this.dialect,
      clock: this.#clock ??= { at: performance.now() },
    });
  }

  /**
   * Ends a connection that took too long: answers 104 in its dialect (or as
   * a text line before one is known) and stops reading.
   */
  timeOut(message: string): void {
    if (this.#stopping || this.#broken || this.#halted) return;
    this.#o.logger.info("Connection timed out", { conn: this.id, reason: message });
    if (this.#dialect) this.send({ type: "end", id: null, status: Status.TIMEOUT, error: message });
    else this.#out.push(encoder.encode(`error ${Status.TIMEOUT}: ${message}\n`), false);
    this.#halt();
  }

  /** Something happened on the connection: restart the idle clock. */
  touch(): void {
    const now = performance.now();
    if (this.#clock) this.#clock.at = now;
    const limit = this.#o.limits.idleTimeoutMs;
    if (limit <= 0 || this.#halted) return;
    (this.#idle ??= new IdleClock(this.#o.limits, this, (message) => this.timeOut(message))).touch(
      limit,
      now,
    );
  }

  /** Reading ended: the idle clock stops. */
  readEnded(): void {
    this.#idle?.stop();
  }

  async #close() {
    this.#calls?.close();
    this.#idle?.stop();
    try {
      await this.#out.drained();
    } catch { /* broken */ }
    this.#out.close();
    try {
      this.#t.close();
    } catch { /* already closed */ }
  }
}
