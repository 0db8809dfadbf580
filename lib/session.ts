/**
 * One connection: detects its dialect, runs its calls, writes events back
 * with backpressure, and enforces its limits.
 *
 * The session reads the socket itself into one small buffer (it grows while
 * reads fill it and shrinks back when they do not, so an idle connection
 * holds little), feeds the dialect's synchronous decoder, and answers a call
 * that finishes at once without awaiting anything (no timer, no abort
 * controller, no promise). The answers to one read go out in one write, and
 * answers queued while a write is under way go out together in the next;
 * a chunk is copied into the batch as it is queued, so its command may go on
 * (and reuse its buffer) while the previous batch is written, until
 * `AHEAD_BYTES` wait for the socket: then streaming calls are pulled no
 * more and no more requests are read until the socket takes the batch. The
 * deadlines of a connection's calls share one timer.
 *
 * @module
 */
import type { AccessLevel } from "./command.ts";
import type { CallId, Dialect, DialectFactory, Event, Request, ServerHello } from "./dialects/dialect.ts";
import { detectDialect, DIALECTS } from "./dialects/detect.ts";
import { type CallEnv, type Dispatcher, isRunning, type RunningCall } from "./dispatcher.ts";
import { SockdError, Status } from "./errors.ts";
import type { Limits } from "./limits.ts";
import type { Logger } from "./log.ts";
import { InputQueue } from "./_input_queue.ts";
import { Deadlines } from "./_deadlines.ts";
import { isDrop } from "./_conn_transport.ts";

/**
 * A byte stream: a `Deno.Conn` (see `connTransport`), or an in-memory pair
 * in tests. `read` resolves to null at end-of-file, which must leave the
 * write side open (the client half-closed and waits for its answers).
 */
export interface Transport {
  /** Reads into `buf`; resolves with the bytes read, or null at end-of-file. */
  read(buf: Uint8Array): Promise<number | null>;
  /** Writes some of `bytes`; resolves with how many. */
  write(bytes: Uint8Array): Promise<number>;
  /** Closes both directions; a pending read then rejects or ends. */
  close(): void;
}

/** Calls in flight on all the connections of one listener, and how many may be. */
export interface CallPool {
  inFlight: number;
  readonly max: number;
}

/** Options of {@linkcode Session}. */
export interface SessionOptions {
  id: number;
  /** The socket path the connection came in on. */
  listener: string;
  access: AccessLevel;
  /** Told once the connection's dialect is known. */
  onDialect?: (dialect: string) => void;
  dispatcher: Dispatcher;
  limits: Limits;
  /** Shared with the other connections of its listener: their calls in flight together. */
  calls?: CallPool;
  logger: Logger;
  hello: ServerHello;
  dialects?: readonly DialectFactory[];
  /** Told once if the client drops the connection (a reset, a broken pipe): normal, logged at debug. */
  onDropped?: () => void;
}

interface CallState {
  call: RunningCall;
  command: string;
  /** performance.now() when it started. */
  started: number;
  input?: InputQueue;
  done: Promise<void>;
}

/**
 * Bytes asked for per read: small while a connection is idle or chatty (an
 * idle connection holds its read buffer the whole time), doubling while
 * reads fill the buffer, up to the largest.
 */
const MIN_READ_BYTES = 1024;
const MAX_READ_BYTES = 64 * 1024;
/**
 * Bytes that may wait for the socket: below it a streaming call goes on while
 * the previous batch is written (its chunks copied into the next batch);
 * above it, calls wait and the session reads no more requests until the
 * socket has taken the batch.
 */
const AHEAD_BYTES = 256 * 1024;
/** How long shutdown waits for cancelled calls whose answers the client does not read, before closing. */
const STUCK_WRITE_GRACE_MS = 1000;
/** First size of a batch buffer (they grow by doubling to what a batch needs). */
const MIN_BATCH_BUFFER = 4 * 1024;
/** Batch buffers above this size are dropped once the connection has no call running. */
const KEEP_BATCH_BUFFER = 64 * 1024;

const encoder = new TextEncoder();

/** One connection's life. */
export class Session {
  readonly id: number;
  readonly since: Date = new Date();
  #t: Transport;
  #o: SessionOptions;
  #dialect: Dialect | undefined;
  /** Calls that did not finish at once, by id (made on the first). */
  #calls: Map<CallId, CallState> | undefined;
  /** A call being started: running, but not (yet) in #calls (most finish before they would be). */
  #starting = 0;
  #broken = false;
  #stopping = false;
  /** Set once the session should stop reading (shutdown, time-out, lost); wakes `run`. */
  #halted = false;
  #wake: (() => void) | undefined;
  #lastActivity = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #deadlines: Deadlines | undefined;
  /** What calls without input share: the caller and the deadlines. */
  #env: CallEnv | undefined;
  // The write side: answers queued while a write is under way go out together, in one buffer.
  /** One encoded answer not yet copied anywhere: written as it is if nothing joins it (a lone answer). */
  #lone: Uint8Array | undefined;
  /** The batch being gathered, and its length. */
  #batch: Uint8Array | undefined;
  #batchLen = 0;
  /** The other batch buffer, free again once its write is done. */
  #spare: Uint8Array | undefined;
  #writing = false;
  #flushScheduled = false;
  /** Resolves when the batch is taken by the writer (the waiting calls may fill the next one). */
  #taken: PromiseWithResolvers<void> | undefined;
  /** Resolves when the writer has written everything (for close). */
  #flushed: PromiseWithResolvers<void> | undefined;
  #lostError: SockdError | undefined;
  #wentAway = false;

  constructor(transport: Transport, options: SessionOptions) {
    this.id = options.id;
    this.#t = transport;
    this.#o = options;
  }

  /** The detected dialect's name, or `"?"` before the first bytes arrive. */
  get dialect(): string {
    return this.#dialect?.name ?? "?";
  }

  /** Commands running now. */
  get callsInFlight(): number {
    return (this.#calls?.size ?? 0) + this.#starting;
  }

  /** The calls running now (those that did not finish at once): command and milliseconds so far. */
  running(): { command: string; ms: number }[] {
    if (!this.#calls) return [];
    const now = performance.now();
    return [...this.#calls.values()].map((c) => ({ command: c.command, ms: Math.round(now - c.started) }));
  }

  /** The socket path the connection came in on. */
  get listener(): string {
    return this.#o.listener;
  }

  /** The level of access of the connection. */
  get access(): AccessLevel {
    return this.#o.access;
  }

  /** Serves the connection until it ends; never throws. */
  async run(): Promise<void> {
    try {
      const serving = this.#serve();
      serving.catch(() => {});
      const finish = await new Promise<boolean>((resolve, reject) => {
        this.#wake = () => resolve(false);
        if (this.#halted) resolve(false);
        serving.then(resolve, reject);
      });
      this.#wake = undefined;
      // The client has sent all it will (or half-closed): answer what is in flight.
      // On shutdown, shutdown() decides when the rest are cancelled.
      if (finish || this.#stopping) await this.#allDone();
    } catch (err) {
      if (isDrop(err)) this.#dropped(err);
      else this.#o.logger.warn("Connection failed", { conn: this.id, error: String(err) });
    } finally {
      this.#halt();
      this.#cancelAll(new SockdError(Status.CANCELLED, "Connection closed"));
      await this.#allDone();
      await this.#close();
    }
  }

  /**
   * Stops reading new requests, lets calls finish for up to `drainMs`, then
   * cancels the rest with CANCELLED (106) and closes.
   */
  async shutdown(drainMs: number): Promise<void> {
    this.#stopping = true;
    this.#halt();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#allDone(), new Promise((r) => timer = setTimeout(r, drainMs))]);
    clearTimeout(timer);
    this.#cancelAll(new SockdError(Status.CANCELLED, "Server is shutting down"));
    // A cancelled call may still wait for a client that does not read its answers: after a
    // grace period the socket is closed under it, which fails the pending write and ends it.
    const done = this.#allDone();
    const settled = await Promise.race([
      done.then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), STUCK_WRITE_GRACE_MS)),
    ]);
    clearTimeout(timer);
    if (!settled) {
      try {
        this.#t.close();
      } catch { /* already closed */ }
      await done;
    }
  }

  #allDone(): Promise<unknown> {
    if (!this.#calls || this.#calls.size === 0) return Promise.resolve();
    return Promise.allSettled([...this.#calls.values()].map((c) => c.done));
  }

  /** Stops reading: `run` goes on to finish the calls and close. The pending read ends when the socket closes. */
  #halt() {
    if (this.#halted) return;
    this.#halted = true;
    this.#wake?.();
  }

  /** Reads and handles requests; true when calls in flight should be let finish. */
  async #serve(): Promise<boolean> {
    const limits = this.#o.limits;
    let handshake: ReturnType<typeof setTimeout> | undefined = setTimeout(
      () => this.#timeOut(`No complete request within ${limits.handshakeTimeoutMs} ms`),
      limits.handshakeTimeoutMs,
    );
    try {
      let buf = new Uint8Array(MIN_READ_BYTES);
      let n: number | null;
      do {
        n = await this.#t.read(buf);
        if (this.#halted || n === null) return false;
      } while (n === 0);
      const factory = detectDialect(buf[0]!, this.#o.dialects ?? DIALECTS);
      if (!factory) {
        this.#push(encoder.encode(`error ${Status.BAD_REQUEST}: unrecognised protocol\n`), false);
        return false;
      }
      const dialect = factory.create({ limits, hello: this.#o.hello });
      this.#dialect = dialect;
      this.#o.onDialect?.(dialect.name);
      const greeting = dialect.greeting?.();
      if (greeting) this.#push(greeting, false);
      const decoder = dialect.decoder();
      while (true) {
        decoder.push(buf.subarray(0, n));
        let req: Request | undefined;
        // The idle clock restarts once per read that brings requests, and after each wait.
        let touched = false;
        while ((req = decoder.next()) !== undefined) {
          if (this.#halted) return false;
          if (handshake !== undefined) {
            clearTimeout(handshake);
            handshake = undefined;
          }
          if (!touched) {
            this.#touch();
            touched = true;
          }
          const handled = this.#handle(req, dialect);
          if (handled === true) continue;
          if (handled === false || !await handled) return false;
          touched = false;
        }
        // The answers to this read go out now, before the next read is asked for.
        if (this.#flushScheduled && !this.#writing) this.#flush();
        // The client is not reading its answers: read no more requests until it does.
        if (this.#batchLen >= AHEAD_BYTES) await this.#whenTaken();
        // Grow while reads fill the buffer; shrink back when little arrives, so an idle connection holds little.
        if (n === buf.length && buf.length < MAX_READ_BYTES) buf = new Uint8Array(buf.length * 2);
        else if (n < buf.length / 8 && buf.length > MIN_READ_BYTES) buf = new Uint8Array(buf.length / 2);
        n = await this.#t.read(buf);
        if (this.#halted) return false;
        if (n === null) {
          decoder.end();
          while ((req = decoder.next()) !== undefined) {
            this.#touch();
            const handled = this.#handle(req, dialect);
            if (!(handled === true || (handled !== false && await handled))) return false;
          }
          return true;
        }
      }
    } catch (err) {
      if (this.#halted) return false;
      throw err;
    } finally {
      clearTimeout(handshake);
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
  }

  /** Handles one request; false ends the connection. A promise when it has to wait. */
  #handle(req: Request, dialect: Dialect): boolean | Promise<boolean> {
    switch (req.type) {
      case "call": {
        const task = this.#startCall(req);
        if (task && !dialect.concurrent) return task.then(() => true);
        return true;
      }
      case "cancel":
        this.#calls?.get(req.id)?.call.abort(new SockdError(Status.CANCELLED, "Cancelled by the client"));
        return true;
      case "input": {
        const call = this.#calls?.get(req.id);
        // Waiting here pauses reading the connection while the command is behind.
        const room = call?.input?.push(req.chunk);
        return room ? Promise.race([room, call!.done]).then(() => true) : true;
      }
      case "input-end":
        this.#calls?.get(req.id)?.input?.end();
        return true;
      case "ping":
        this.#send({ type: "pong", id: req.id });
        return true;
      case "error":
        this.#send({ type: "end", id: req.id, status: req.status, error: req.message });
        return !req.fatal;
      case "quit":
        return false;
    }
  }

  /** Starts a call; a promise of its end when it did not finish at once. */
  #startCall(req: Extract<Request, { type: "call" }>): Promise<void> | undefined {
    const refuse = (status: number, error: string) => {
      this.#send({ type: "end", id: req.id, status, error });
      return undefined;
    };
    const calls = this.#calls ??= new Map();
    if (calls.has(req.id)) {
      // With no id: an end for this id would read as the end of the call still running under it.
      const error = `Call id ${JSON.stringify(req.id)} is already in flight (the new call was not run)`;
      this.#send({ type: "end", id: null, status: Status.BAD_REQUEST, error, details: { id: req.id } });
      return undefined;
    }
    if (calls.size >= this.#o.limits.maxCallsPerConnection) {
      return refuse(
        Status.BUSY,
        `Too many calls in flight on this connection (limit ${this.#o.limits.maxCallsPerConnection})`,
      );
    }
    const pool = this.#o.calls;
    if (pool && pool.inFlight >= pool.max) {
      return refuse(Status.BUSY, `Too many calls in flight on this socket (limit ${pool.max})`);
    }
    const shared = this.#env ??= {
      caller: Object.freeze({ connection: this.id, dialect: this.dialect, access: this.#o.access }),
      deadlines: this.#deadlines = new Deadlines(),
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
      this.#send(started);
      return undefined;
    }
    const state = { call: started, command: req.command, started: performance.now(), input } as CallState;
    calls.set(req.id, state);
    if (pool) pool.inFlight++;
    state.done = this.#pump(req.id, state);
    return state.done;
  }

  /** Moves a running call's events to the connection, one chunk at a time. */
  async #pump(id: CallId, state: CallState): Promise<void> {
    try {
      while (true) {
        const event = await state.call.next();
        if (this.#broken) break;
        this.#send(event);
        if (event.type === "end") break;
        // Backpressure: the command is pulled again once the socket has taken this chunk.
        await this.#whenTaken();
      }
    } catch (err) {
      this.#lost(err);
    } finally {
      state.input?.discard();
      this.#calls!.delete(id);
      if (this.#o.calls) this.#o.calls.inFlight--;
      this.#touch();
      if (this.#calls!.size === 0) this.#trimBuffers();
    }
  }

  /** Queues one event; a data event that cannot be encoded ends its call with 105 instead. */
  #send(event: Event) {
    if (this.#broken) return;
    const dialect = this.#dialect!;
    let bytes: Uint8Array;
    try {
      if (event.type === "data" && event.chunk instanceof Uint8Array && dialect.dataHeader) {
        const header = dialect.dataHeader(event.id, event.chunk);
        if (header.length > 0) this.#push(header, false);
        if (event.chunk.length > 0) this.#push(event.chunk, true);
        return;
      }
      bytes = dialect.encode(event);
    } catch (err) {
      if (event.type !== "data") throw err;
      this.#calls?.get(event.id)?.call.abort(
        new SockdError(Status.HANDLER_ERROR, `Command produced a chunk that cannot be sent: ${err}`),
      );
      return;
    }
    // A data event's bytes may be the command's own (text sends bytes chunks as they are).
    if (bytes.length > 0) this.#push(bytes, event.type === "data");
  }

  /**
   * Queues bytes for the next write. Bytes joining others are copied into the
   * batch at once, so `bytes` (which may be a command's own chunk, `borrowed`)
   * are free again when this returns, except for a lone answer of the
   * session's own, which is written as it is.
   */
  #push(bytes: Uint8Array, borrowed: boolean) {
    if (this.#batchLen === 0 && this.#lone === undefined && !borrowed) {
      this.#lone = bytes;
    } else {
      const lone = this.#lone;
      if (lone) {
        this.#lone = undefined;
        this.#append(lone);
      }
      this.#append(bytes);
    }
    if (!this.#writing && !this.#flushScheduled) {
      this.#flushScheduled = true;
      // Everything queued in this turn (all the answers to one read) goes out in one write.
      queueMicrotask(() => this.#flush());
    }
  }

  #append(bytes: Uint8Array) {
    const need = this.#batchLen + bytes.length;
    let batch = this.#batch;
    if (!batch || batch.length < need) {
      let size = Math.max(batch?.length ?? 0, this.#spare?.length ?? 0, MIN_BATCH_BUFFER);
      while (size < need) size *= 2;
      const next = new Uint8Array(size);
      if (batch && this.#batchLen > 0) next.set(batch.subarray(0, this.#batchLen));
      batch = this.#batch = next;
    }
    batch.set(bytes, this.#batchLen);
    this.#batchLen = need;
  }

  /**
   * Resolves at once while little is queued, else once the writer has taken
   * the batch; rejects if the connection is lost.
   */
  #whenTaken(): Promise<void> {
    if (this.#broken) return Promise.reject(this.#lostError);
    if (this.#batchLen < AHEAD_BYTES) return Promise.resolve();
    return (this.#taken ??= Promise.withResolvers<void>()).promise;
  }

  /** Writes what is queued, batch by batch, until nothing is. */
  async #flush() {
    this.#flushScheduled = false;
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (!this.#broken && (this.#lone !== undefined || this.#batchLen > 0)) {
        let bytes: Uint8Array;
        let written: Uint8Array | undefined;
        if (this.#lone !== undefined) {
          bytes = this.#lone;
          this.#lone = undefined;
        } else {
          written = this.#batch!;
          bytes = written.subarray(0, this.#batchLen);
          // Answers arriving while this is written go to the other buffer.
          this.#batch = this.#spare;
          this.#spare = undefined;
          this.#batchLen = 0;
        }
        const taken = this.#taken;
        this.#taken = undefined;
        taken?.resolve();
        await this.#writeAll(bytes);
        if (written) this.#spare = written;
      }
    } catch (err) {
      this.#lost(err);
    } finally {
      this.#writing = false;
      if (this.#broken) {
        this.#lone = undefined;
        this.#batchLen = 0;
        this.#taken?.reject(this.#lostError);
        this.#taken = undefined;
      }
      const flushed = this.#flushed;
      this.#flushed = undefined;
      flushed?.resolve();
    }
  }

  /** The connection has no call running: drop large batch buffers (an idle connection holds little). */
  #trimBuffers() {
    if ((this.#spare?.length ?? 0) > KEEP_BATCH_BUFFER) this.#spare = undefined;
    if (this.#batchLen === 0 && (this.#batch?.length ?? 0) > KEEP_BATCH_BUFFER) this.#batch = undefined;
  }

  async #writeAll(bytes: Uint8Array) {
    let off = 0;
    while (off < bytes.length) off += await this.#t.write(off === 0 ? bytes : bytes.subarray(off));
  }

  /** Resolves once everything queued has been written (or the connection is lost). */
  async #drained() {
    while (!this.#broken && (this.#writing || this.#lone !== undefined || this.#batchLen > 0)) {
      if (!this.#writing) {
        await this.#flush();
        continue;
      }
      await (this.#flushed ??= Promise.withResolvers<void>()).promise;
    }
  }

  #lost(err: unknown) {
    if (this.#broken) return;
    this.#broken = true;
    this.#lostError = new SockdError(Status.CONN_ERROR, "Connection lost", { cause: err });
    this.#dropped(err);
    this.#cancelAll(new SockdError(Status.CANCELLED, "Client disconnected"));
    this.#taken?.reject(this.#lostError);
    this.#taken = undefined;
    this.#halt();
  }

  #dropped(err: unknown) {
    if (this.#wentAway) return;
    this.#wentAway = true;
    this.#o.logger.debug("Client went away", { conn: this.id, error: String(err) });
    this.#o.onDropped?.();
  }

  #cancelAll(reason: SockdError) {
    if (!this.#calls) return;
    for (const state of this.#calls.values()) state.call.abort(reason);
  }

  /**
   * Ends a connection that took too long: answers 104 in its dialect (or as
   * a text line before one is known) and stops reading.
   */
  #timeOut(message: string) {
    if (this.#stopping || this.#broken || this.#halted) return;
    this.#o.logger.info("Connection timed out", { conn: this.id, reason: message });
    if (this.#dialect) this.#send({ type: "end", id: null, status: Status.TIMEOUT, error: message });
    else this.#push(encoder.encode(`error ${Status.TIMEOUT}: ${message}\n`), false);
    this.#halt();
  }

  /** Something happened on the connection: restart the idle clock. */
  #touch() {
    const limit = this.#o.limits.idleTimeoutMs;
    if (limit <= 0 || this.#halted) return;
    this.#lastActivity = performance.now();
    if (this.#idleTimer === undefined) this.#armIdle(limit);
  }

  #armIdle(ms: number) {
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#halted) return;
      const idleFor = performance.now() - this.#lastActivity;
      const limit = this.#o.limits.idleTimeoutMs;
      const calls = this.callsInFlight;
      if (calls > 0 || idleFor < limit) {
        this.#armIdle(calls > 0 ? limit : limit - idleFor);
        return;
      }
      this.#timeOut(`Idle for ${Math.round(limit / 1000)} s`);
    }, ms);
  }

  async #close() {
    this.#deadlines?.close();
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    try {
      await this.#drained();
    } catch { /* broken */ }
    try {
      this.#t.close();
    } catch { /* already closed */ }
  }
}
