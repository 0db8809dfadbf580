/**
 * Joining byte arrays.
 *
 * @module
 */

/**
 * `parts` one after another in one array: a new one, or the part itself
 * when there is only one.
 *
 * @example
 * ```ts
 * import { concatBytes } from "./_bytes.ts";
 * const joined = concatBytes([new Uint8Array([1, 2]), new Uint8Array([]), new Uint8Array([3])]);
 * console.assert(joined.join() === "1,2,3");
 * ```
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
