/**
 * Every bound and deadline the server applies, with its default, in one place.
 *
 * @module
 */
import type { AccessLevel } from "./command.ts";

/** Bounds and deadlines of a server. Every field is optional in {@linkcode ServeOptions}. */
export interface Limits {
  /**
   * Largest msgpack frame accepted, in bytes (answered with 108 and the
   * connection closed).
   * @default {16777216}
   */
  maxFrameBytes: number;
  /**
   * Longest text or JSON line accepted, in bytes (answered with 108; the line
   * is discarded up to its newline).
   * @default {65536}
   */
  maxLineBytes: number;
  /**
   * Calls in flight on one connection; more are answered with 109.
   * @default {128}
   */
  maxCallsPerConnection: number;
  /**
   * Calls in flight on all the connections of one listener together; more
   * are answered with 109. Each listener counts its own.
   * @default {1024}
   */
  maxCalls: number;
  /**
   * Open connections on one listener; more are answered with 109 and closed.
   * Each listener counts its own, so a flood on one socket (say a
   * world-connectable read-only one) leaves the others their capacity.
   * @default {1024}
   */
  maxConnections: number;
  /**
   * Time for a new connection to send its first complete request, in ms;
   * answered with 104 and closed after (against slowloris clients). Long
   * enough for a person who connects with `nc` and then types.
   * @default {30000}
   */
  handshakeTimeoutMs: number;
  /**
   * Time a connection may sit with no call running and nothing received, in
   * ms, before it is closed with 104; 0 for never.
   * @default {900000}
   */
  idleTimeoutMs: number;
  /**
   * The idle timeout of connections on a `read` listener, in ms, when it is
   * shorter than `idleTimeoutMs`: such sockets are usually open to many
   * users, and a connection that sent its request and now sits idle gives its
   * slot back sooner; 0 for the same as `idleTimeoutMs`.
   * @default {60000}
   */
  readIdleTimeoutMs: number;
  /**
   * Deadline of a call whose command declares none, in ms; 0 for none.
   * Commands marked `persistent` have no default deadline.
   * @default {60000}
   */
  defaultCallTimeoutMs: number;
  /**
   * Longest deadline a client may ask for, in ms.
   * @default {3600000}
   */
  maxCallTimeoutMs: number;
  /**
   * Input a client may send ahead of a command reading it, in bytes; past it
   * the connection's reads pause until the command catches up.
   * @default {1048576}
   */
  inputBufferBytes: number;
  /**
   * Time calls may take to finish on shutdown before they are cancelled, in ms.
   * @default {5000}
   */
  drainTimeoutMs: number;
}

/** The defaults of {@linkcode Limits}. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxFrameBytes: 16 * 1024 * 1024,
  maxLineBytes: 64 * 1024,
  maxCallsPerConnection: 128,
  maxCalls: 1024,
  maxConnections: 1024,
  handshakeTimeoutMs: 30_000,
  idleTimeoutMs: 900_000,
  readIdleTimeoutMs: 60_000,
  defaultCallTimeoutMs: 60_000,
  maxCallTimeoutMs: 3_600_000,
  inputBufferBytes: 1024 * 1024,
  drainTimeoutMs: 5_000,
});

/** Fills in defaults and rejects nonsense (a programmer error: RangeError). */
export function resolveLimits(partial: Partial<Limits> = {}): Limits {
  const limits = { ...DEFAULT_LIMITS, ...partial };
  for (const [key, value] of Object.entries(limits)) {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`Limit ${key} must be a non-negative number, got ${value}`);
    }
  }
  return limits;
}

/** The limits each listener applies to its own connections, apart from every other listener's. */
export interface ListenerLimits {
  /** Open connections on this listener. */
  maxConnections: number;
  /** Calls in flight on this listener's connections together. */
  maxCalls: number;
  /** Calls in flight on one of its connections. */
  maxCallsPerConnection: number;
  /** Idle time before one of its connections is closed with 104, in ms; 0 for never. */
  idleTimeoutMs: number;
}

/** The keys of {@linkcode ListenerLimits}, as `--listen` takes them. */
export const LISTENER_LIMIT_KEYS: readonly (keyof ListenerLimits)[] = [
  "maxConnections",
  "maxCalls",
  "maxCallsPerConnection",
  "idleTimeoutMs",
];

/**
 * A listener's limits: its own settings, else the server's; a `read`
 * listener's idle timeout defaults to the shorter `readIdleTimeoutMs`.
 */
export function listenerLimits(
  limits: Limits,
  access: AccessLevel,
  own: Partial<ListenerLimits> = {},
): ListenerLimits {
  const shortIdle = access === "read" && limits.readIdleTimeoutMs > 0 &&
    (limits.idleTimeoutMs === 0 || limits.readIdleTimeoutMs < limits.idleTimeoutMs);
  const out: ListenerLimits = {
    maxConnections: limits.maxConnections,
    maxCalls: limits.maxCalls,
    maxCallsPerConnection: limits.maxCallsPerConnection,
    idleTimeoutMs: shortIdle ? limits.readIdleTimeoutMs : limits.idleTimeoutMs,
  };
  for (const key of LISTENER_LIMIT_KEYS) {
    const value = own[key];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`Listener limit ${key} must be a non-negative number, got ${value}`);
    }
    out[key] = value;
  }
  return out;
}
