/**
 * Many deadlines, one timer: a min-heap of due times and a single
 * `setTimeout` armed for the earliest. Adding and removing a deadline costs
 * O(log n) and no timer call in the common case (a call that ends long
 * before its deadline); a call that finishes without ever waiting needs no
 * deadline at all.
 *
 * @module
 */

/** One pending deadline; pass it to {@linkcode Deadlines.remove}. */
export interface Deadline {
  /** Due time, on the `performance.now()` clock. */
  readonly at: number;
  /** Position in the heap, -1 once fired or removed. */
  index: number;
  readonly fire: () => void;
}

/**
 * A set of deadlines sharing one timer. The timer is armed while a deadline
 * is pending (it may stay armed, harmlessly, until its due time after the
 * last deadline was removed); {@linkcode Deadlines.close} clears it.
 *
 * @example
 * ```ts
 * import { Deadlines } from "./_deadlines.ts";
 * const deadlines = new Deadlines();
 * const fired = Promise.withResolvers<string>();
 * deadlines.add(10, () => fired.resolve("late"));
 * const early = deadlines.add(5, () => fired.resolve("early"));
 * deadlines.remove(early);
 * console.assert(await fired.promise === "late");
 * deadlines.close();
 * ```
 */
export class Deadlines {
  #heap: Deadline[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the armed timer is due (Infinity when none is armed). */
  #armedFor = Infinity;
  #closed = false;

  /** Deadlines pending. */
  get size(): number {
    return this.#heap.length;
  }

  /** Calls `fire` once `ms` have passed, unless removed before. */
  add(ms: number, fire: () => void): Deadline {
    const d: Deadline = { at: performance.now() + ms, index: this.#heap.length, fire };
    this.#heap.push(d);
    this.#up(d.index);
    // Deadlines of one length arrive in due order: only the first arms the timer.
    if (d.index === 0 && !this.#closed && d.at < this.#armedFor) this.#arm(d.at);
    return d;
  }

  /** Forgets `d` (a no-op when it has fired or was removed). */
  remove(d: Deadline): void {
    const i = d.index;
    if (i < 0) return;
    d.index = -1;
    const last = this.#heap.pop()!;
    if (last === d) return;
    this.#heap[i] = last;
    last.index = i;
    this.#down(i);
    this.#up(last.index);
  }

  /** Clears the timer; pending deadlines no longer fire. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
  }

  #arm(at: number) {
    clearTimeout(this.#timer);
    this.#armedFor = at;
    // Rounded up: a deadline may fire late, never early (timers have 1 ms resolution; one that
    // wakes a fraction early re-arms for the rest).
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, Math.ceil(at - performance.now())));
  }

  #expire() {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = performance.now();
    while (this.#heap.length > 0 && this.#heap[0]!.at <= now) {
      const d = this.#heap[0]!;
      this.remove(d);
      try {
        d.fire();
      } catch { /* a deadline's action must not stop the others */ }
    }
    if (this.#heap.length > 0 && !this.#closed) this.#arm(this.#heap[0]!.at);
  }

  #up(i: number) {
    const heap = this.#heap;
    const d = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (parent.at <= d.at) break;
      heap[i] = parent;
      parent.index = i;
      i = p;
    }
    heap[i] = d;
    d.index = i;
  }

  #down(i: number) {
    const heap = this.#heap;
    const n = heap.length;
    const d = heap[i]!;
    while (true) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && heap[r]!.at < heap[l]!.at ? r : l;
      const child = heap[c]!;
      if (child.at >= d.at) break;
      heap[i] = child;
      child.index = i;
      i = c;
    }
    heap[i] = d;
    d.index = i;
  }
}
