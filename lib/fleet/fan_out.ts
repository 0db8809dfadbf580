/**
 * Runs one task per item with at most `concurrency` at a time, in the
 * order given, as `pssh -p` and Ansible's `forks` do.
 *
 * @module
 */

/** Options of {@linkcode fanOut}. */
export interface FanOutOptions {
  /** Most tasks running at once. @default {32} */
  concurrency?: number;
  /** Once aborted, tasks not yet started are skipped (their result is undefined). */
  signal?: AbortSignal;
}

/**
 * Runs `task` for every item, at most `concurrency` at once; resolves with
 * the results in the items' order (undefined for tasks skipped after
 * `signal` aborted). A task should not throw: what it returns is its outcome.
 *
 * @example
 * ```ts
 * import { fanOut } from "./fan_out.ts";
 * let running = 0, most = 0;
 * const out = await fanOut(["a", "b", "c", "d"], async (host) => {
 *   most = Math.max(most, ++running);
 *   await new Promise((r) => setTimeout(r, 5));
 *   running--;
 *   return host.toUpperCase();
 * }, { concurrency: 2 });
 * console.assert(out.join("") === "ABCD" && most === 2);
 * ```
 */
export async function fanOut<T>(
  items: readonly string[],
  task: (item: string, index: number) => Promise<T>,
  options: FanOutOptions = {},
): Promise<(T | undefined)[]> {
  const concurrency = options.concurrency ?? 32;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`Concurrency must be a positive integer, not ${concurrency}`);
  }
  const results: (T | undefined)[] = new Array(items.length).fill(undefined);
  let next = 0;
  const worker = async () => {
    while (next < items.length && !options.signal?.aborted) {
      const i = next++;
      results[i] = await task(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
