/**
 * A connection's idle clock: one timer, re-armed lazily. Activity only
 * records the time; when the timer fires it re-arms for what is left, or
 * for a whole period while calls are running, and otherwise tells the
 * session the connection is idle.
 *
 * @module
 */
import type { Limits } from "./limits.ts";

/** The idle clock of one connection. */
export class IdleClock {
  #limits: Limits;
  #session: { readonly callsInFlight: number };
  #onIdle: (message: string) => void;
  #halted = false;
  #lastActivity = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    limits: Limits,
    session: { readonly callsInFlight: number },
    onIdle: (message: string) => void,
  ) {
    this.#limits = limits;
    this.#session = session;
    this.#onIdle = onIdle;
  }

  /** Something happened on the connection at `now` (`performance.now()`): restart the clock of `limit` ms. */
  touch(limit: number, now: number): void {
    this.#lastActivity = now;
    if (this.#timer === undefined) this.#arm(limit);
  }

  /** Clears the timer (a later `touch` arms it again). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The session stopped reading: a timer still armed fires without effect. */
  halt(): void {
    this.#halted = true;
  }

  #arm(ms: number) {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#halted) return;
      const idleFor = performance.now() - this.#lastActivity;
      const limit = this.#limits.idleTimeoutMs;
      const calls = this.#session.callsInFlight;
      if (calls > 0 || idleFor < limit) {
        this.#arm(calls > 0 ? limit : limit - idleFor);
        return;
      }
      this.#onIdle(`Idle for ${Math.round(limit / 1000)} s`);
    }, ms);
  }
}
