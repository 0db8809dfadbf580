/**
 * The calls of one connection: each started within the connection's and its
 * listener's limits, and each running call's events moved to the connection
 * one chunk at a time, the next pulled once the socket has taken the last
 * (backpressure).
 *
 * A call that finishes at once is answered without awaiting anything (no
 * timer, no abort controller, no promise) and never enters the table: the
 * `_call_table.ts` is made on the first call that does not. The calls share
 * one `CallEnv`: the caller, the connection's deadlines (one timer for all
 * of them) and its clock (read once per read that brings requests, not once
 * per call). What they need of their session is the narrow
 * {@linkcode CallsHost}.
 *
 * @module
 */
import type { CallId, Event, Request } from "./dialects/dialect.ts";
import { type CallEnv, isRunning } from "./dispatcher.ts";
import { SockdError, Status } from "./errors.ts";
import { InputQueue } from "./_input_queue.ts";
import { Deadlines } from "./_deadlines.ts";
import type { BatchWriter } from "./_batch_writer.ts";
import { type CallState, CallTable } from "./_call_table.ts";
import type { MoveOut } from "./_moved_connection.ts";
import type { SessionOptions } from "./session_options.ts";

/** The end of a persistent call that reads input when its connection moves to a successor process. */
export const MOVED_WITH_INPUT =
  "The server was upgraded: this call reads input, which cannot follow it to the new process; call it again";

/** What the calls need of their session. */
export interface CallsHost {
  /** Queues one event for the client (nothing once the connection broke). */
  send(event: Event): void;
  /** Something happened on the connection: restart its idle clock. */
  touch(): void;
  /** Writing to the connection failed. */
  lost(err: unknown): void;
  /** Whether the connection broke: a call's events then go nowhere. */
  broken(): boolean;
}

/** The calls of one session. */
export class SessionCalls {
  #o: SessionOptions;
  #out: BatchWriter;
  #host: CallsHost;
  #dialect: string;
  /** The session's last clock reading (see `CallEnv.clock`): when a call started. */
  #clock: { at: number };
  /** Calls that did not finish at once, by id (made on the first). */
  #calls: CallTable | undefined;
  /** A call being started: running, but not (yet) in #calls (most finish before they would be). */
  #starting = 0;
  /** What calls without input share: the caller, the deadlines and the clock. */
  #env: CallEnv | undefined;
  #deadlines: Deadlines | undefined;

  constructor(
    options: SessionOptions,
    io: { out: BatchWriter; host: CallsHost; dialect: string; clock: { at: number } },
  ) {
    this.#o = options;
    this.#out = io.out;
    this.#host = io.host;
    this.#dialect = io.dialect;
    this.#clock = io.clock;
  }

  /** Commands running now. */
  get inFlight(): number {
    return (this.#calls?.size ?? 0) + this.#starting;
  }

  /** The calls running now (those that did not finish at once): command and milliseconds so far. */
  running(): { command: string; ms: number }[] {
    return this.#calls?.running() ?? [];
  }

  /** The running call `id`, if it did not finish at once. */
  get(id: CallId): CallState | undefined {
    return this.#calls?.get(id);
  }

  /** Resolves once every call running now has ended. */
  allDone(): Promise<unknown> {
    return this.#calls?.allDone() ?? Promise.resolve();
  }

  /** Aborts every running call with `reason`. */
  cancelAll(reason: SockdError): void {
    this.#calls?.cancelAll(reason);
  }

  /** Lets the calls finish for up to `drainMs`, then cancels the rest (see `CallTable.drain`). */
  async drain(drainMs: number, close: () => void): Promise<void> {
    await this.#calls?.drain(drainMs, close);
  }

  /**
   * The connection moves (`Session.moveOut`): the calls of `persistent`
   * commands without input (or whose input ended empty) stop here without
   * an answer and follow in the successor; those reading input end at once
   * with 106 (it cannot be replayed there); the others finish here.
   */
  moveOut(move: MoveOut): void {
    for (const state of this.#calls?.values() ?? []) {
      if (!this.#o.dispatcher.isPersistent(state.command)) continue;
      // Input ended before a byte of it came (sockd call's stdin offered to a command that reads
      // none): nothing to replay, the call follows as one without input.
      if (state.input && !state.input.endedEmpty) {
        // Its input so far cannot be replayed there, and no more is read here: it ends now, with a
        // reason, instead of the client hearing nothing until the drain gives up on it.
        state.call.abort(new SockdError(Status.CANCELLED, MOVED_WITH_INPUT));
        continue;
      }
      state.moved = true;
      move.add(state.input ? { ...state.req, input: false } : state.req);
      state.call.abort(new SockdError(Status.CANCELLED, "Connection moved to the successor process"));
    }
  }

  /** No call will start any more: stops the deadlines' timer. */
  close(): void {
    this.#deadlines?.close();
  }

  /**
   * A request about a call already started: cancel it, or feed or end its
   * input. A promise while its input is behind: waiting for it pauses reading
   * the connection.
   */
  request(req: Extract<Request, { type: "cancel" | "input" | "input-end" }>): true | Promise<true> {
    const state = this.get(req.id);
    if (req.type === "cancel") {
      state?.call.abort(new SockdError(Status.CANCELLED, "Cancelled by the client"));
      return true;
    }
    if (req.type === "input-end") {
      state?.input?.end();
      return true;
    }
    const room = state?.input?.push(req.chunk);
    return room ? Promise.race([room, state!.done]).then(() => true as const) : true;
  }

  /** Starts a call; a promise of its end when it did not finish at once. */
  start(req: Extract<Request, { type: "call" }>): Promise<void> | undefined {
    const calls = this.#calls;
    if (calls?.has(req.id)) {
      // With no id: an end for this id would read as the end of the call still running under it.
      const error = `Call id ${JSON.stringify(req.id)} is already in flight (the new call was not run)`;
      this.#host.send({ type: "end", id: null, status: Status.BAD_REQUEST, error, details: { id: req.id } });
      return undefined;
    }
    if ((calls?.size ?? 0) >= this.#o.limits.maxCallsPerConnection) {
      const error =
        `Too many calls in flight on this connection (limit ${this.#o.limits.maxCallsPerConnection})`;
      this.#host.send({ type: "end", id: req.id, status: Status.BUSY, error });
      return undefined;
    }
    const pool = this.#o.calls;
    if (pool && pool.inFlight >= pool.max) {
      const error = `Too many calls in flight on this socket (limit ${pool.max})`;
      this.#host.send({ type: "end", id: req.id, status: Status.BUSY, error });
      return undefined;
    }
    const shared = this.#env ??= {
      caller: Object.freeze({ connection: this.#o.id, dialect: this.#dialect, access: this.#o.access }),
      deadlines: this.#deadlines = new Deadlines(),
      clock: this.#clock,
    };
    const input = req.input ? new InputQueue(this.#o.limits.inputBufferBytes) : undefined;
    const env = input ? { ...shared, input: () => input.stream } : shared;
    this.#starting++;
    let started;
    try {
      started = this.#o.dispatcher.start(req, env);
    } finally {
      this.#starting--;
    }
    if (!isRunning(started)) {
      input?.discard();
      this.#host.send(started);
      return undefined;
    }
    const state = { call: started, command: req.command, started: this.#clock.at, input, req } as CallState;
    (this.#calls ??= new CallTable()).set(req.id, state);
    if (pool) pool.inFlight++;
    state.done = this.#pump(req.id, state);
    return state.done;
  }

  /** Moves a running call's events to the connection, one chunk at a time. */
  async #pump(id: CallId, state: CallState): Promise<void> {
    try {
      while (true) {
        const event = await state.call.next();
        // A followed call whose connection moves ends here unseen: it goes on in the successor.
        if (this.#host.broken() || state.moved) break;
        this.#host.send(event);
        if (event.type === "end") break;
        // Backpressure: the command is pulled again once the socket has taken this chunk.
        await this.#out.whenTaken();
      }
    } catch (err) {
      this.#host.lost(err);
    } finally {
      state.input?.discard();
      this.#calls!.delete(id);
      if (this.#o.calls) this.#o.calls.inFlight--;
      this.#host.touch();
      if (this.#calls!.size === 0) this.#out.trim();
    }
  }
}
