/**
 * How a call ends: the end event of an error, and the one abort reason
 * shared by every call that ended normally.
 *
 * @module
 */
import type { CallId, Event } from "./dialects/dialect.ts";
import { SockdError, Status } from "./errors.ts";

/** The abort reason of a call that ended normally: one shared object, not one per call. */
export const CALL_ENDED: SockdError = new SockdError(Status.CANCELLED, "Call ended");

/** The end event of a call that failed with `err`. */
export function endError(id: CallId, err: SockdError): Event {
  return {
    type: "end",
    id,
    status: err.status,
    error: err.message,
    ...(err.details ? { details: err.details } : {}),
  };
}
