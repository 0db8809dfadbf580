/**
 * What a session is given: its connection's identity and access, the
 * dispatcher and limits, and the pool of calls its listener shares.
 *
 * @module
 */
import type { AccessLevel } from "./command.ts";
import type { DialectFactory, ServerHello } from "./dialects/dialect.ts";
import type { Dispatcher } from "./dispatcher.ts";
import type { Limits } from "./limits.ts";
import type { Logger } from "./log.ts";
import type { MovedConnection } from "./_moved_connection.ts";

/** Calls in flight on all the connections of one listener, and how many may be. */
export interface CallPool {
  inFlight: number;
  readonly max: number;
}

/** Options of `Session`. */
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
  /** A connection the process this one replaced handed over: carry on from where it stood. */
  resume?: MovedConnection;
}
