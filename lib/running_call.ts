/**
 * A call that did not finish at once, as the session sees it: events pulled
 * one at a time, and an abort.
 *
 * @module
 */
import type { Event } from "./dialects/dialect.ts";

/**
 * A call that did not finish at once: pull its events with `next` (data
 * events, then exactly one end event; do not call `next` after the end),
 * and `abort` it on cancel, disconnect or shutdown.
 */
export interface RunningCall {
  /** The next event; never rejects. Pulling is the backpressure: the command waits between pulls. */
  next(): Promise<Event>;
  /** Stops the call: a pending or next `next` answers the end with `reason` (CANCELLED unless a SockdError). */
  abort(reason: unknown): void;
}

/** What {@linkcode Dispatcher.start} returns: the end event of a call that finished at once, or the running call. */
export type Started = Event | RunningCall;

/** Whether `started` is a call still running (rather than its end event). */
export function isRunning(started: Started): started is RunningCall {
  return typeof (started as RunningCall).next === "function";
}
