/**
 * The measuring loop of the benchmark suite: run workers for a warm-up, then
 * count what they complete in a fixed window, bounded in time and count.
 *
 * @module
 */
import { sleep } from "./_stats.ts";

/** How long one repetition runs. */
export interface Window {
  /** Run before counting starts (JIT warm-up, connection setup settling). */
  warmupMs: number;
  /** Time counted. */
  durationMs: number;
  /** Stop early once this many units are counted. */
  maxUnits: number;
}

/**
 * One worker step: does some work and resolves to the units it completed
 * (1 for a call, k for k pipelined messages).
 */
export type Step = () => Promise<number>;

/**
 * Runs every step in its own loop concurrently and returns units per second
 * counted in the window. Work in flight when the window closes finishes but
 * is not counted.
 */
export async function throughput(window: Window, steps: readonly Step[]): Promise<number> {
  let counting = false;
  let stop = false;
  let units = 0;
  let t0 = 0;
  let t1 = 0;
  const close = () => {
    if (stop) return;
    stop = true;
    t1 = performance.now();
  };
  const loops = steps.map(async (step) => {
    try {
      while (!stop) {
        const n = await step();
        if (counting) {
          units += n;
          if (units >= window.maxUnits) close();
        }
      }
    } catch (err) {
      close();
      throw err;
    }
  });
  const clock = (async () => {
    await sleep(window.warmupMs);
    if (stop) return;
    units = 0;
    counting = true;
    t0 = performance.now();
    while (!stop && performance.now() - t0 < window.durationMs) {
      await sleep(Math.min(50, window.durationMs - (performance.now() - t0)));
    }
    close();
  })();
  const failed = await Promise.allSettled([...loops, clock]).then((r) =>
    r.find((x): x is PromiseRejectedResult => x.status === "rejected")
  );
  if (failed) throw failed.reason;
  const seconds = (t1 - t0) / 1000;
  if (!(seconds > 0)) throw new Error("The measuring window did not run");
  return units / seconds;
}
