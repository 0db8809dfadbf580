/**
 * Waiting on a promise until a signal says to stop waiting.
 *
 * @module
 */

/** `p`'s outcome, or `signal`'s reason as a rejection if it aborts first (`p` itself runs on). */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
