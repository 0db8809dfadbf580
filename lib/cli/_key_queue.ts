/**
 * Keys read from the terminal, queued for the REPL: taken in order at the
 * prompt, or by a predicate while a call runs (Ctrl-C cancels it).
 *
 * @module
 */
import type { Key } from "./_line_editor.ts";

/** Keys read from the terminal, taken in order or by a predicate. */
export class KeyQueue {
  #keys: Key[] = [];
  #waiters: { match: (k: Key) => boolean; resolve: (k: Key | undefined) => void }[] = [];

  push(...keys: Key[]) {
    for (const key of keys) {
      const i = this.#waiters.findIndex((w) => w.match(key));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(key);
      else this.#keys.push(key);
    }
  }

  /** The first key matching `match` (queued or to come), or undefined once `signal` aborts. */
  take(match: (k: Key) => boolean = () => true, signal?: AbortSignal): Promise<Key | undefined> {
    const i = this.#keys.findIndex(match);
    if (i >= 0) return Promise.resolve(this.#keys.splice(i, 1)[0]);
    if (signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter = { match, resolve };
      this.#waiters.push(waiter);
      signal?.addEventListener("abort", () => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        resolve(undefined);
      }, { once: true });
    });
  }
}
