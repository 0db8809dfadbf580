/**
 * Small statistics and formatting helpers of the benchmark suite.
 *
 * @module
 */

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("median of no values");
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Spread of `values` as (max - min) / median, for telling noisy figures apart. */
export function spread(values: readonly number[]): number {
  const m = median(values);
  return m === 0 ? 0 : (Math.max(...values) - Math.min(...values)) / m;
}

/** A count with thousands separators and at most 3 significant decimals. */
export function formatCount(n: number): string {
  const digits = n >= 100 ? 0 : n >= 10 ? 1 : 2;
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** Bytes per second as MB/s or GB/s (decimal units). */
export function formatRate(bytesPerSecond: number): string {
  return bytesPerSecond >= 1e9
    ? `${(bytesPerSecond / 1e9).toFixed(2)} GB/s`
    : `${(bytesPerSecond / 1e6).toFixed(0)} MB/s`;
}

/** Bytes as B, KiB or MiB. */
export function formatBytes(bytes: number): string {
  if (Math.abs(bytes) >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  if (Math.abs(bytes) >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${Math.round(bytes)} B`;
}

/** Milliseconds with one decimal. */
export function formatMs(ms: number): string {
  return `${ms.toFixed(1)} ms`;
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
