/**
 * One connection: detects its dialect, runs its calls, writes events back
 * with backpressure, and enforces its limits.
 *
 * @module
 */
import type { AccessLevel, CallerInfo } from "./command.ts";
import type { CallId, Dialect, DialectFactory, Event, Request, ServerHello } from "./dialects/dialect.ts";
import { detectDialect, DIALECTS } from "./dialects/detect.ts";
import { Dispatcher } from "./dispatcher.ts";
import { SockdError, Status } from "./errors.ts";
import type { Limits } from "./limits.ts";
import type { Logger } from "./log.ts";
import { InputQueue } from "./_input_queue.ts";

/** A byte stream pair, e.g. a `Deno.Conn` or an in-memory pair in tests. */
export interface Transport {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  close(): void;
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
  logger: Logger;
  hello: ServerHello;
  dialects?: readonly DialectFactory[];
}

interface CallState {
  ctrl: AbortController;
  input?: InputQueue;
  done: Promise<void>;
}

/** One connection's life. */
export class Session {
  readonly id: number;
  readonly since: Date = new Date();
  #t: Transport;
  #o: SessionOptions;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #dialect: Dialect | undefined;
  #calls = new Map<CallId, CallState>();
  #broken = false;
  #stopping = false;
  #lastActivity = performance.now();
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = Promise.withResolvers<void>();

  constructor(transport: Transport, options: SessionOptions) {
    this.id = options.id;
    this.#t = transport;
    this.#o = options;
    this.#writer = transport.writable.getWriter();
    this.#reader = transport.readable.getReader();
  }

  /** The detected dialect's name, or `"?"` before the first bytes arrive. */
  get dialect(): string {
    return this.#dialect?.name ?? "?";
  }

  /** Commands running now. */
  get callsInFlight(): number {
    return this.#calls.size;
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
      // The client has sent all it will (or half-closed): answer what is in flight.
      // On shutdown, shutdown() decides when the rest are cancelled.
      if (await this.#serve() || this.#stopping) {
        await Promise.allSettled([...this.#calls.values()].map((c) => c.done));
      }
    } catch (err) {
      this.#o.logger.warn("Connection failed", { conn: this.id, error: String(err) });
    } finally {
      this.#cancelAll(new SockdError(Status.CANCELLED, "Connection closed"));
      await Promise.allSettled([...this.#calls.values()].map((c) => c.done));
      await this.#close();
    }
  }

  /**
   * Stops reading new requests, lets calls finish for up to `drainMs`, then
   * cancels the rest with CANCELLED (106) and closes.
   */
  async shutdown(drainMs: number): Promise<void> {
    this.#stopping = true;
    this.#stopped.resolve();
    const all = () => Promise.allSettled([...this.#calls.values()].map((c) => c.done));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([all(), new Promise((r) => timer = setTimeout(r, drainMs))]);
    clearTimeout(timer);
    this.#cancelAll(new SockdError(Status.CANCELLED, "Server is shutting down"));
    await all();
  }

  /** Reads and handles requests; true when calls in flight should be let finish. */
  async #serve(): Promise<boolean> {
    const handshake = setTimeout(
      () => this.#timeOut(`No complete request within ${this.#o.limits.handshakeTimeoutMs} ms`),
      this.#o.limits.handshakeTimeoutMs,
    );
    try {
      return await this.#serveRequests(handshake);
    } finally {
      clearTimeout(handshake);
      clearTimeout(this.#idleTimer);
    }
  }

  async #serveRequests(handshake: ReturnType<typeof setTimeout>): Promise<boolean> {
    const first = await this.#firstChunk();
    if (!first) return false;
    const factory = detectDialect(first[0]!, this.#o.dialects ?? DIALECTS);
    if (!factory) {
      await this.#write(
        new TextEncoder().encode(`error ${Status.BAD_REQUEST}: unrecognised protocol\n`),
      );
      return false;
    }
    const dialect = factory.create({ limits: this.#o.limits, hello: this.#o.hello });
    this.#dialect = dialect;
    this.#o.onDialect?.(dialect.name);
    const greeting = dialect.greeting();
    if (greeting) await this.#write(greeting);

    const requests = dialect.decode(this.#source(first))[Symbol.asyncIterator]();
    while (true) {
      // Stopping must not cancel the readable: that would close the socket
      // under calls still draining. The pending read ends when it closes.
      const step = await Promise.race([requests.next(), this.#stopped.promise]);
      if (step === undefined || this.#broken) return false;
      if (step.done) return true;
      clearTimeout(handshake);
      this.#touch();
      if (!await this.#handle(step.value, dialect)) return false;
    }
  }

  /** Handles one request; false ends the connection. */
  async #handle(req: Request, dialect: Dialect): Promise<boolean> {
    switch (req.type) {
      case "call": {
        const task = this.#startCall(req);
        if (!dialect.concurrent) await task;
        return true;
      }
      case "cancel":
        this.#calls.get(req.id)?.ctrl.abort(
          new SockdError(Status.CANCELLED, "Cancelled by the client"),
        );
        return true;
      case "input": {
        const call = this.#calls.get(req.id);
        // Waiting here pauses reading the connection while the command is behind.
        if (call?.input) await Promise.race([call.input.push(req.chunk), call.done]);
        return true;
      }
      case "input-end":
        this.#calls.get(req.id)?.input?.end();
        return true;
      case "ping":
        await this.#send({ type: "pong", id: req.id });
        return true;
      case "error":
        await this.#send({ type: "end", id: req.id, status: req.status, error: req.message });
        return !req.fatal;
      case "quit":
        return false;
    }
  }

  /** Starts a call; resolves when it has ended. */
  #startCall(req: Extract<Request, { type: "call" }>): Promise<void> {
    const refuse = (status: number, error: string) => this.#send({ type: "end", id: req.id, status, error });
    if (this.#calls.has(req.id)) {
      return refuse(Status.BAD_REQUEST, `Call id ${JSON.stringify(req.id)} is already in flight`);
    }
    if (this.#calls.size >= this.#o.limits.maxCallsPerConnection) {
      return refuse(
        Status.BUSY,
        `Too many calls in flight on this connection (limit ${this.#o.limits.maxCallsPerConnection})`,
      );
    }
    const ctrl = new AbortController();
    const input = req.input ? new InputQueue(this.#o.limits.inputBufferBytes) : undefined;
    const caller: CallerInfo = { connection: this.id, dialect: this.dialect, access: this.#o.access };
    const state = { ctrl, input } as CallState;
    this.#calls.set(req.id, state);
    state.done = (async () => {
      try {
        const events = this.#o.dispatcher.call(req, {
          caller,
          signal: ctrl.signal,
          input: input?.stream ?? Dispatcher.emptyInput(),
        });
        for await (const event of events) await this.#send(event);
      } catch (err) {
        this.#lost(err);
      } finally {
        input?.discard();
        this.#calls.delete(req.id);
        this.#touch();
      }
    })();
    return state.done;
  }

  /** Writes one event; an event that cannot be encoded ends its call with 105 instead. */
  async #send(event: Event): Promise<void> {
    let bytes: Uint8Array;
    try {
      bytes = this.#dialect!.encode(event);
    } catch (err) {
      if (event.type !== "data") throw err;
      const ctrl = this.#calls.get(event.id)?.ctrl;
      ctrl?.abort(
        new SockdError(Status.HANDLER_ERROR, `Command produced a chunk that cannot be sent: ${err}`),
      );
      return;
    }
    if (bytes.length > 0) await this.#write(bytes);
  }

  async #write(bytes: Uint8Array) {
    if (this.#broken) throw new SockdError(Status.CONN_ERROR, "Connection lost");
    try {
      await this.#writer.write(bytes);
    } catch (err) {
      this.#lost(err);
      throw new SockdError(Status.CONN_ERROR, "Connection lost", { cause: err });
    }
  }

  #lost(err: unknown) {
    if (this.#broken) return;
    this.#broken = true;
    this.#o.logger.debug("Client went away", { conn: this.id, error: String(err) });
    this.#cancelAll(new SockdError(Status.CANCELLED, "Client disconnected"));
    this.#reader.cancel().catch(() => {});
  }

  #cancelAll(reason: SockdError) {
    for (const call of this.#calls.values()) {
      if (!call.ctrl.signal.aborted) call.ctrl.abort(reason);
    }
  }

  async #firstChunk(): Promise<Uint8Array | undefined> {
    while (true) {
      const got = await Promise.race([this.#reader.read(), this.#stopped.promise]);
      if (got === undefined || got.done) return undefined; // shutting down, timed out, or gone
      if (got.value.length > 0) return got.value;
    }
  }

  /**
   * Ends a connection that took too long: answers 104 in its dialect (or as
   * a text line before one is known) and stops reading.
   */
  #timeOut(message: string) {
    if (this.#stopping || this.#broken) return;
    this.#o.logger.info("Connection timed out", { conn: this.id, reason: message });
    const answer = this.#dialect
      ? this.#send({ type: "end", id: null, status: Status.TIMEOUT, error: message })
      : this.#write(new TextEncoder().encode(`error ${Status.TIMEOUT}: ${message}\n`));
    answer.catch(() => {}).finally(() => this.#stopped.resolve());
  }

  /** Something happened on the connection: restart the idle clock. */
  #touch() {
    this.#lastActivity = performance.now();
    if (this.#idleTimer === undefined && this.#o.limits.idleTimeoutMs > 0) {
      this.#armIdle(this.#o.limits.idleTimeoutMs);
    }
  }

  #armIdle(ms: number) {
    this.#idleTimer = setTimeout(() => {
      const idleFor = performance.now() - this.#lastActivity;
      const limit = this.#o.limits.idleTimeoutMs;
      if (this.#calls.size > 0 || idleFor < limit) {
        this.#armIdle(this.#calls.size > 0 ? limit : limit - idleFor);
        return;
      }
      this.#timeOut(`Idle for ${Math.round(limit / 1000)} s`);
    }, ms);
  }

  async *#source(first: Uint8Array): AsyncGenerator<Uint8Array> {
    yield first;
    while (true) {
      const { done, value } = await this.#reader.read();
      if (done) return;
      yield value;
    }
  }

  async #close() {
    try {
      await this.#writer.close();
    } catch { /* already closed or broken */ }
    try {
      this.#t.close();
    } catch { /* already closed */ }
  }
}
