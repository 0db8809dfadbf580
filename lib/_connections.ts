/**
 * The server's connections: the accept loop of each listening socket, the
 * refusal of connections past a socket's limit, and the sessions open now.
 *
 * @module
 */
import type { ConnectionInfo } from "./command.ts";
import type { ServerHello } from "./dialects/dialect.ts";
import type { Dispatcher } from "./dispatcher.ts";
import type { Logger } from "./log.ts";
import type { Refusals } from "./_refusal.ts";
import { Session } from "./session.ts";
import type { Transport } from "./transport.ts";
import type { Stats } from "./stats.ts";
import type { Listening } from "./_listener_set.ts";
import type { Handoff, MovedConnection } from "./_moved_connection.ts";
import type { AccessLevel } from "./command.ts";
import { raceAbort } from "./_abortable.ts";

/** Where connections go when the server hands over to a successor process (`upgrade`). */
export interface ConnectionMover {
  /** Sends one connection (its socket and what moves with it); rejects when it could not. */
  move(handoff: Handoff, from: { listener: string; access: AccessLevel }): Promise<void>;
  /**
   * Every connection moved or ended, no call runs here any more: the plugin
   * state is final. Resolves once the successor has been told (bounded).
   */
  finished(): Promise<void>;
}

/** What the connections share with their server. */
export interface ConnectionsOptions {
  dispatcher: Dispatcher;
  stats: Stats;
  logger: Logger;
  refusals: Refusals;
  hello: ServerHello;
  /** Whether the server is shutting down (new connections are closed at once). */
  closing: () => boolean;
  /** Called whenever a connection opens or closes. */
  onConnection?: () => void;
}

/** Every open connection of a server, and how they are accepted. */
export class Connections {
  /** The open sessions. */
  readonly sessions: Set<Session> = new Set();
  #o: ConnectionsOptions;
  #nextId = 1;
  /** The hello of each access level, shared by its connections rather than copied for each. */
  #hellos = new Map<string, ServerHello>();

  constructor(options: ConnectionsOptions) {
    this.#o = options;
  }

  /** Calls running on every connection. */
  get callsInFlight(): number {
    let n = 0;
    for (const s of this.sessions) n += s.callsInFlight;
    return n;
  }

  /** The open connections, oldest first. */
  list(): ConnectionInfo[] {
    return [...this.sessions].map((s) => ({
      id: s.id,
      listener: s.listener,
      access: s.access,
      dialect: s.dialect,
      since: s.since.toISOString(),
      calls: s.callsInFlight,
      running: s.running(),
    }));
  }

  /** Accepts on `bound` until it is closed. */
  async accept(bound: Listening): Promise<void> {
    const listener = bound.socket;
    while (true) {
      let conn: Transport;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.#o.closing() || err instanceof Deno.errors.BadResource) return;
        this.#o.logger.warn("Accept failed", { error: String(err) });
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (this.#o.closing()) {
        conn.close();
        continue;
      }
      this.#start(conn, bound);
    }
  }

  /** Serves a connection the process this one replaced handed over, from where it stood. */
  resume(conn: Transport, listening: Listening, moved: MovedConnection): void {
    this.#start(conn, listening, moved);
  }

  /**
   * Moves every connection to a successor process (see `Session.moveOut`)
   * through `mover`; those that cannot move within `deadlineMs` stay, for the
   * caller to shut down. Resolves with how many moved.
   */
  async moveAll(mover: ConnectionMover, deadlineMs: number): Promise<number> {
    let moved = 0;
    await Promise.allSettled([...this.sessions].map(async (s) => {
      // Not at a clean boundary by then: it stays.
      const h = await within(s.moveOut(), deadlineMs).catch(() => undefined);
      if (!h) return;
      try {
        // A successor that stops reading its channel must not hold this process up for ever.
        await within(mover.move(h, { listener: s.listener, access: s.access }), deadlineMs);
        moved++;
      } catch (err) {
        this.#o.logger.warn("A connection could not be handed over; it is closed", {
          conn: s.id,
          error: String(err),
        });
        h.transport.close();
      }
    }));
    return moved;
  }

  #hello(access: ServerHello["access"]): ServerHello {
    const key = String(access);
    let hello = this.#hellos.get(key);
    if (!hello) this.#hellos.set(key, hello = Object.freeze({ ...this.#o.hello, access }));
    return hello;
  }

  #start(conn: Transport, listening: Listening, resume?: MovedConnection) {
    const id = this.#nextId++;
    const bound = listening.socket;
    const own = listening.limits;
    this.#o.stats.connected();
    // Each listener has its own pool: a flood on one socket never takes another's capacity.
    if (listening.sessions.size >= own.maxConnections) {
      this.#o.stats.refused();
      this.#o.logger.warn("Connection refused: limit reached", {
        conn: id,
        listener: bound.path,
        limit: own.maxConnections,
      });
      this.#o.refusals.refuse(conn, `too many connections (limit ${own.maxConnections})`);
      return;
    }
    const session = new Session(conn, {
      id,
      listener: bound.path,
      access: bound.access,
      onDialect: (dialect) => {
        this.#o.stats.dialect(bound.path, dialect, 1);
        this.#o.logger.debug("Connected", { conn: id, listener: bound.path, dialect });
      },
      dispatcher: this.#o.dispatcher,
      limits: listening.sessionLimits,
      calls: listening.calls,
      logger: this.#o.logger,
      hello: this.#hello(bound.access),
      onDropped: () => this.#o.stats.dropped(),
      ...(resume ? { resume } : {}),
    });
    this.sessions.add(session);
    listening.sessions.add(session);
    this.#o.onConnection?.();
    session.run().finally(() => {
      this.sessions.delete(session);
      listening.sessions.delete(session);
      this.#o.onConnection?.();
      if (session.dialect !== "?") this.#o.stats.dialect(bound.path, session.dialect, -1);
      this.#o.logger.debug("Disconnected", {
        conn: id,
        dialect: session.dialect,
        seconds: Math.round((Date.now() - session.since.getTime()) / 100) / 10,
      });
    });
  }
}

/** `p`, or a rejection once `ms` have passed (`p` runs on); the timer ends with the race. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  const late = new AbortController();
  const timer = setTimeout(() => late.abort(), ms);
  return raceAbort(p, late.signal, () => new Error(`not taken within ${ms} ms`))
    .finally(() => clearTimeout(timer));
}
