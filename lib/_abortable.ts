/**
 * Waiting until a signal says to stop waiting: on a promise, or on time.
 *
 * @module
 */

/** What the waits here watch: an `AbortSignal`, or an {@linkcode AbortFlag}. */
export interface AbortWatch {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/**
 * An abort event without EventTarget: a flag and a set of functions, for
 * the CLI's Ctrl-C. An AbortController and listeners on its signal cost a
 * cold `sockd call` ~1 ms of CPU, the first use of Deno's EventTarget in
 * the process (with `after` below, a cold call's CPU: 18.46 vs 19.28 ms,
 * p25 of 50 interleaved runs). Listeners run once, on the first `abort()`.
 *
 * @example
 * ```ts
 * import { AbortFlag } from "./_abortable.ts";
 * const flag = new AbortFlag();
 * let heard = 0;
 * flag.addEventListener("abort", () => heard++);
 * flag.abort();
 * flag.abort();
 * console.assert(flag.aborted && heard === 1);
 * ```
 */
export class AbortFlag implements AbortWatch {
  #aborted = false;
  readonly #listeners = new Set<() => void>();

  get aborted(): boolean {
    return this.#aborted;
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    const listeners = [...this.#listeners];
    this.#listeners.clear();
    for (const fn of listeners) fn();
  }

  addEventListener(_type: "abort", listener: () => void): void {
    if (!this.#aborted) this.#listeners.add(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    this.#listeners.delete(listener);
  }
}

/**
 * Runs `fn` after `ms` unless the returned function is called first, on
 * V8's own timer (`Atomics.waitAsync` with a timeout). It keeps no process
 * alive: it bounds a wait on something that does (a read of a socket).
 * Not setTimeout: Deno 2.9.6 loads its Node timers on a process's first
 * setTimeout, ~5 ms of a cold `sockd call`; not `AbortSignal.timeout` and a
 * listener: ~1.4 ms of a cold process's CPU, against ~0.5 ms for this
 * (perf stat, p10 of 50 interleaved runs: 14.9 and 14.0 vs 13.5 ms for
 * neither).
 *
 * @example
 * ```ts
 * import { after } from "./_abortable.ts";
 * let fired = false;
 * const stop = after(10_000, () => fired = true);
 * stop();
 * console.assert(!fired);
 * ```
 */
export function after(ms: number, fn: () => void): () => void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const wait = Atomics.waitAsync(cell, 0, 0, Math.max(0, ms));
  if (!wait.async) {
    queueMicrotask(fn);
    return () => {};
  }
  let stopped = false;
  wait.value.then((outcome) => {
    if (outcome === "timed-out" && !stopped) fn();
  });
  return () => {
    stopped = true;
    Atomics.notify(cell, 0);
  };
}

/**
 * `p`'s outcome, or a rejection as soon as `signal` aborts (`p` itself runs
 * on). The rejection is `reason()`, or the signal's own reason. No signal:
 * `p` as it is.
 */
export function raceAbort<T>(
  p: Promise<T>,
  signal: AbortWatch | undefined,
  reason: () => unknown = () => signal?.reason,
): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(reason());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(reason());
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortWatch): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
