/**
 * Status codes and the one error class sockd uses for them.
 *
 * The numbers are stable and the same in every dialect; see PROTOCOL.md.
 *
 * @module
 */

/** The stable status codes of sockd, by name. */
export const Status = {
  OK: 0,
  NOT_FOUND: 101,
  BAD_REQUEST: 102,
  CONN_ERROR: 103,
  TIMEOUT: 104,
  HANDLER_ERROR: 105,
  CANCELLED: 106,
  FORBIDDEN: 107,
  TOO_LARGE: 108,
  BUSY: 109,
  BAD_ARGS: 110,
} as const;

/** One of the names in {@linkcode Status}. */
export type StatusName = keyof typeof Status;

const NAMES = new Map<number, StatusName>(
  Object.entries(Status).map(([name, code]) => [code, name as StatusName]),
);

/**
 * The name of a status code, or `"UNKNOWN"` for a number sockd does not define.
 *
 * @example
 * ```ts
 * import { statusName } from "sockd";
 * console.assert(statusName(101) === "NOT_FOUND");
 * ```
 */
export function statusName(code: number): StatusName | "UNKNOWN" {
  return NAMES.get(code) ?? "UNKNOWN";
}

/** Options of {@linkcode SockdError}. */
export interface SockdErrorOptions extends ErrorOptions {
  /** Structured detail, e.g. `{ usage }` for BAD_ARGS. Must be serializable. */
  details?: Record<string, unknown>;
  /** True when the error was reported by the server rather than raised locally. */
  remote?: boolean;
}

/**
 * An error with a stable sockd status code.
 *
 * Commands may throw it to answer with a specific code (for example
 * `BAD_ARGS`); any other thrown error becomes `HANDLER_ERROR` (105).
 * On the client, `remote` tells errors the server reported (the command
 * failed) from transport errors (the socket died).
 *
 * @example
 * ```ts
 * import { SockdError, Status } from "sockd";
 * const err = new SockdError(Status.NOT_FOUND, 'Unknown command "statz"');
 * console.assert(err.status === 101 && err.code === "NOT_FOUND");
 * ```
 */
export class SockdError extends Error {
  /** The numeric status code, e.g. 104. */
  readonly status: number;
  /** The status name, e.g. `"TIMEOUT"`. */
  readonly code: StatusName | "UNKNOWN";
  /** Structured detail sent along with the message. */
  readonly details?: Record<string, unknown>;
  /** Whether the server reported this error. */
  readonly remote: boolean;

  constructor(status: number, message: string, options: SockdErrorOptions = {}) {
    super(message, options);
    this.name = "SockdError";
    this.status = status;
    this.code = statusName(status);
    this.details = options.details;
    this.remote = options.remote ?? false;
  }
}

/**
 * Turns anything thrown into a {@linkcode SockdError}: sockd errors keep their
 * code, anything else becomes `fallback` (HANDLER_ERROR by default) with the
 * thrown message.
 */
export function toSockdError(
  err: unknown,
  fallback: number = Status.HANDLER_ERROR,
): SockdError {
  if (err instanceof SockdError) return err;
  // Errors that crossed a worker boundary lose their class but keep fields.
  if (
    err && typeof err === "object" && "status" in err &&
    typeof err.status === "number" && NAMES.has(err.status) &&
    err.status !== Status.OK
  ) {
    const e = err as { status: number; message?: unknown; details?: unknown };
    return new SockdError(e.status, String(e.message ?? statusName(e.status)), {
      details: isRecord(e.details) ? e.details : undefined,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new SockdError(fallback, message || "Command failed", { cause: err });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
