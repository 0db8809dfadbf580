/**
 * A publish/subscribe bus whose subscribers each have a bounded queue: a
 * slow reader (a client following a log over a slow link) loses items, and
 * learns how many, instead of growing the server's memory or slowing the
 * publisher.
 *
 * @module
 */

/** What a subscription yields: an item, or how many were dropped since the last one. */
export type Delivery<T> = { item: T } | { dropped: number };

/** Options of {@linkcode EventBus.subscribe}. */
export interface SubscribeOptions<T> {
  /** Ends the subscription. */
  signal?: AbortSignal;
  /** The queue's budget, in units of `cost`. @default {1000} */
  max?: number;
  /** What one item costs against `max`. @default {() => 1} */
  cost?: (item: T) => number;
}

interface Sub<T> {
  /** Items, with a marker where some were dropped (never two markers in a row). */
  queue: Delivery<T>[];
  used: number;
  max: number;
  cost: (item: T) => number;
  wake: (() => void) | undefined;
  closed: boolean;
}

/**
 * A bus of `T` values.
 *
 * @example
 * ```ts
 * import { EventBus } from "./event_bus.ts";
 * const bus = new EventBus<string>();
 * const ac = new AbortController();
 * const sub = bus.subscribe({ signal: ac.signal, max: 1 });
 * bus.publish("a");
 * bus.publish("b"); // over budget: dropped for this subscriber
 * const it = sub[Symbol.asyncIterator]();
 * console.assert(JSON.stringify((await it.next()).value) === '{"item":"a"}');
 * console.assert(JSON.stringify((await it.next()).value) === '{"dropped":1}');
 * bus.publish("c");
 * console.assert(JSON.stringify((await it.next()).value) === '{"item":"c"}');
 * ac.abort();
 * ```
 */
export class EventBus<T> {
  #subs = new Set<Sub<T>>();

  /** Subscribers now. */
  get size(): number {
    return this.#subs.size;
  }

  /** Hands `item` to every subscriber (never waits). */
  publish(item: T): void {
    for (const s of this.#subs) {
      const c = s.cost(item);
      if (s.used + c > s.max && s.queue.length > 0) {
        const last = s.queue[s.queue.length - 1]!;
        if ("dropped" in last) last.dropped++;
        else s.queue.push({ dropped: 1 });
        continue;
      }
      s.queue.push({ item });
      s.used += c;
      s.wake?.();
    }
  }

  /** Ends every subscription (their iterators finish). */
  close(): void {
    for (const s of this.#subs) {
      s.closed = true;
      s.wake?.();
    }
    this.#subs.clear();
  }

  /** Items published from now on, until `signal` aborts or the bus closes. */
  subscribe(options: SubscribeOptions<T> = {}): AsyncIterable<Delivery<T>> {
    const sub: Sub<T> = {
      queue: [],
      used: 0,
      max: options.max ?? 1000,
      cost: options.cost ?? (() => 1),
      wake: undefined,
      closed: false,
    };
    const { signal } = options;
    const subs = this.#subs;
    subs.add(sub);
    const end = () => {
      sub.closed = true;
      subs.delete(sub);
      sub.wake?.();
    };
    if (signal?.aborted) end();
    else signal?.addEventListener("abort", end, { once: true });
    return {
      async *[Symbol.asyncIterator]() {
        try {
          while (true) {
            const next = sub.queue.shift();
            if (next !== undefined) {
              if ("item" in next) sub.used -= sub.cost(next.item);
              yield next;
              continue;
            }
            if (sub.closed) return;
            await new Promise<void>((r) => sub.wake = r);
            sub.wake = undefined;
          }
        } finally {
          signal?.removeEventListener("abort", end);
          subs.delete(sub);
        }
      },
    };
  }
}
