/**
 * Counters and latency percentiles of a server, for the `stats` built-in.
 * Bounded: a fixed window of recent durations per command.
 *
 * @module
 */

/** Recent durations kept per command for percentiles. */
export const LATENCY_WINDOW = 1024;
/** Distinct command names tracked; calls to further names count under `(other)`. */
export const MAX_TRACKED_COMMANDS = 1000;

import type { StatsSnapshot } from "./command.ts";
import { compareNames } from "./_name_order.ts";

export type { StatsSnapshot };

class Window {
  #values = new Float64Array(LATENCY_WINDOW);
  #count = 0;

  add(ms: number) {
    this.#values[this.#count % LATENCY_WINDOW] = ms;
    this.#count++;
  }

  percentile(p: number): number {
    const n = Math.min(this.#count, LATENCY_WINDOW);
    if (n === 0) return 0;
    const sorted = this.#values.slice(0, n).sort();
    const i = Math.min(n - 1, Math.ceil((p / 100) * n) - 1);
    return Math.round(sorted[Math.max(0, i)]! * 1000) / 1000;
  }
}

interface Entry {
  calls: number;
  errors: Map<number, number>;
  window: Window;
}

/** Collects a server's figures. */
export class Stats {
  readonly started: number = Date.now();
  #commands = new Map<string, Entry>();
  #open = new Map<string, number>(); // "listener\0dialect" -> open connections
  #total = 0;
  #refused = 0;
  #dropped = 0;
  #calls = 0;
  #errors = 0;

  /** Calls ended since the server started. */
  get callsEnded(): number {
    return this.#calls;
  }

  /** A connection was accepted on `listener`. */
  connected(): void {
    this.#total++;
  }

  /** A connection was refused (limit reached). */
  refused(): void {
    this.#refused++;
  }

  /** A client dropped its connection abruptly (a reset, a broken pipe). */
  dropped(): void {
    this.#dropped++;
  }

  /** A connection's dialect became known, or it closed (`delta` -1). */
  dialect(listener: string, dialect: string, delta: 1 | -1): void {
    const key = `${listener}\0${dialect}`;
    const n = (this.#open.get(key) ?? 0) + delta;
    if (n <= 0) this.#open.delete(key);
    else this.#open.set(key, n);
  }

  /** A call ended with `status` after `ms`. */
  callEnded(command: string, status: number, ms: number): void {
    this.#calls++;
    if (status !== 0) this.#errors++;
    let name = command;
    if (!this.#commands.has(name) && this.#commands.size >= MAX_TRACKED_COMMANDS) name = "(other)";
    let e = this.#commands.get(name);
    if (!e) {
      e = { calls: 0, errors: new Map(), window: new Window() };
      this.#commands.set(name, e);
    }
    e.calls++;
    if (status !== 0) e.errors.set(status, (e.errors.get(status) ?? 0) + 1);
    e.window.add(ms);
  }

  /** The figures now; `inFlight` is counted by the caller (the sessions know it). */
  snapshot(inFlight = 0): StatsSnapshot {
    const byDialect: Record<string, number> = {};
    const byListener: Record<string, number> = {};
    let open = 0;
    for (const [key, n] of this.#open) {
      const [listener, dialect] = key.split("\0") as [string, string];
      byDialect[dialect] = (byDialect[dialect] ?? 0) + n;
      byListener[listener] = (byListener[listener] ?? 0) + n;
      open += n;
    }
    const commands: StatsSnapshot["commands"] = {};
    for (const [name, e] of [...this.#commands].sort(([a], [b]) => compareNames(a, b))) {
      commands[name] = {
        calls: e.calls,
        errors: Object.fromEntries([...e.errors].map(([s, n]) => [String(s), n])),
        p50Ms: e.window.percentile(50),
        p99Ms: e.window.percentile(99),
      };
    }
    return {
      uptimeSeconds: Math.round((Date.now() - this.started) / 1000),
      connections: {
        open,
        total: this.#total,
        refused: this.#refused,
        dropped: this.#dropped,
        byDialect,
        byListener,
      },
      calls: { total: this.#calls, inFlight, errors: this.#errors },
      commands,
    };
  }
}
