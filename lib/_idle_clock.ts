/**
 * The connections' clocks: a connection's idle clock and its handshake
 * deadline are {@linkcode Alarm}s, and every alarm of the process shares one
 * timer. A pending `setTimeout` costs ~1 KiB of JS heap and ~3.3 KiB of RSS
 * in Deno 2.9 (measured over 10,000 timers), a third of what an idle
 * connection costs; an alarm is an entry in a set.
 *
 * Alarms are coarse: one is due up to an eighth of its delay late (at most
 * 1 s, at least 10 ms), so alarms set at nearby times fire in one sweep of
 * the set rather than one timer each.
 *
 * @module
 */
import type { Limits } from "./limits.ts";

const armed = new Set<Alarm>();
let timer: ReturnType<typeof setTimeout> | undefined;
let timerDue = Infinity;

/** A deadline that calls `fire` once it passes, checked by the one shared timer. */
export class Alarm {
  /** `performance.now()` at which it fires; Infinity when not set. */
  #due = Infinity;
  #fire: () => void;

  constructor(fire: () => void) {
    this.#fire = fire;
  }

  /** Fires `ms` after `now` (`performance.now()`), a little later at most (see the module doc). */
  set(ms: number, now: number = performance.now()): void {
    const grain = Math.min(1000, Math.max(10, ms / 8));
    this.#due = Math.ceil((now + ms) / grain) * grain;
    armed.add(this);
    if (this.#due < timerDue) arm(this.#due, now);
  }

  /** Stops it (a later `set` starts it again). */
  clear(): void {
    this.#due = Infinity;
    if (armed.delete(this) && armed.size === 0) disarm();
  }

  /** @internal fires it if due by `now`; its due time after that (Infinity when it is not set again). */
  static sweep(alarm: Alarm, now: number): number {
    if (alarm.#due > now) return alarm.#due;
    alarm.#due = Infinity;
    armed.delete(alarm);
    alarm.#fire();
    return alarm.#due;
  }
}

/** @internal for tests: alarms set now, and whether the shared timer is armed. */
export function _alarmState(): { set: number; timer: boolean } {
  return { set: armed.size, timer: timer !== undefined };
}

function arm(due: number, now: number) {
  clearTimeout(timer);
  timerDue = due;
  timer = setTimeout(sweep, Math.max(0, due - now));
}

function disarm() {
  clearTimeout(timer);
  timer = undefined;
  timerDue = Infinity;
}

function sweep() {
  timer = undefined;
  timerDue = Infinity;
  const now = performance.now();
  let next = Infinity;
  // An alarm set again while it fires is due later than now; the set may change as it is walked.
  for (const alarm of armed) next = Math.min(next, Alarm.sweep(alarm, now));
  if (next < Infinity && next < timerDue) arm(next, performance.now());
}

/**
 * The idle clock of one connection: activity only records the time; when
 * its alarm goes off it is set again for what is left, or for a whole
 * period while calls are running, and otherwise tells the session the
 * connection is idle.
 */
export class IdleClock {
  #limits: Limits;
  #session: { readonly callsInFlight: number };
  #onIdle: (message: string) => void;
  #halted = false;
  #lastActivity = 0;
  #alarm: Alarm | undefined;
  #set = false;

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
    if (!this.#set) this.#arm(limit, now);
  }

  /** Stops the clock (a later `touch` starts it again). */
  stop(): void {
    this.#alarm?.clear();
    this.#set = false;
  }

  /** The session stopped reading: an alarm still set goes off without effect. */
  halt(): void {
    this.#halted = true;
  }

  #arm(ms: number, now: number) {
    this.#set = true;
    (this.#alarm ??= new Alarm(() => this.#check())).set(ms, now);
  }

  #check() {
    this.#set = false;
    if (this.#halted) return;
    const now = performance.now();
    const idleFor = now - this.#lastActivity;
    const limit = this.#limits.idleTimeoutMs;
    const calls = this.#session.callsInFlight;
    if (calls > 0 || idleFor < limit) {
      this.#arm(calls > 0 ? limit : limit - idleFor, now);
      return;
    }
    this.#onIdle(`Idle for ${Math.round(limit / 1000)} s`);
  }
}
