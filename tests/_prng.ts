/**
 * mulberry32: a small, fast, seedable PRNG for the fuzz and attack tests;
 * a failure names its seed so the run can be repeated.
 *
 * @module
 */

/** A PRNG seeded with `seed`: `next()` in [0, 1), `int(n)` in [0, n), `pick`, `bytes(n)`. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  return { next, int, pick, bytes };
}
