/**
 * What the calls of a plugin are told when its host ends or cannot start:
 * one short line naming the plugin and why (all HANDLER_ERROR, 105).
 *
 * @module
 */
import { SockdError, Status } from "../errors.ts";

const fail = (message: string) => new SockdError(Status.HANDLER_ERROR, message);

/**
 * The errors, by cause, for plugin file `name`.
 *
 * @example
 * ```ts
 * import { hostErrors } from "./_host_errors.ts";
 * console.assert(hostErrors.silent("a.ts", 8000).message.includes("answered nothing for 8 s"));
 * ```
 */
export const hostErrors = {
  /** A call did not stop within the grace period after its deadline or cancel (`timedOut`). */
  graceOver: (name: string, command: string, graceMs: number, timedOut: boolean): SockdError =>
    fail(
      `Plugin host of ${name} was killed: call "${command}" did not stop within ${graceMs} ms after ` +
        (timedOut ? "its deadline passed" : "it was cancelled"),
    ),
  /** The plugin's code failed outside any call. */
  crashed: (name: string, message: string): SockdError => fail(`Plugin ${name} crashed: ${message}`),
  /** The host sent a message that is never valid at this point. */
  protocol: (name: string, what: string): SockdError =>
    fail(`Plugin host of ${name} broke the protocol: "${what}" again`),
  /** The host answered no ping for `ms` while nothing excused it. */
  silent: (name: string, ms: number): SockdError =>
    fail(
      `Plugin host of ${name} was killed: it answered nothing for ${Math.round(ms / 1000)} s ` +
        `(a loop that never yields?)`,
    ),
  /** The plugin's state went over a budget (`over` names it). */
  stateBudget: (name: string, over: string): SockdError =>
    fail(`Plugin ${name} went over its state budget of ${over}: its host was stopped`),
  /** A host (for a call, or a restart) did not load. */
  cannotStart: (name: string, message: string): SockdError =>
    fail(`Plugin ${name} could not start its host: ${message}`),
  /** The server wrote faster than the host read. */
  notReading: (name: string): SockdError => fail(`Plugin host of ${name} stopped reading its input`),
};
