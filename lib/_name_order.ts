/**
 * The order command names are listed in (`help`, `stats`, completion): the
 * order `localeCompare` gave them, without ICU. The first `localeCompare`
 * of a process maps ICU's collation code and data: ~2.8 MiB of RSS that an
 * idle server kept for good after its first `help` (measured in Deno 2.9.6:
 * RssFile +4.2 MiB against +1.4 for a plain sort).
 *
 * Command names are `[a-z0-9][a-z0-9._:-]*` (lib/validate_command.ts); on
 * those, ICU's root collation compares character by character in this
 * order, a shorter prefix first (tests/name_order_test.ts holds it to
 * `localeCompare`). Anything else falls back to `localeCompare`.
 *
 * @module
 */

const ORDER = "_-:.0123456789abcdefghijklmnopqrstuvwxyz";
const RANK = new Int8Array(128).fill(-1);
for (let i = 0; i < ORDER.length; i++) RANK[ORDER.charCodeAt(i)] = i;

/** Compares two command names as `a.localeCompare(b)` does (its sign). */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x === y) continue;
    const rx = x < 128 ? RANK[x]! : -1, ry = y < 128 ? RANK[y]! : -1;
    if (rx < 0 || ry < 0) return a.localeCompare(b);
    return rx - ry;
  }
  if (a.length !== b.length) {
    // The rest of the longer one must be a name's too, for the prefix rule to be ICU's.
    const longer = a.length > b.length ? a : b;
    for (let i = n; i < longer.length; i++) {
      const c = longer.charCodeAt(i);
      if (c >= 128 || RANK[c]! < 0) return a.localeCompare(b);
    }
  }
  return a.length - b.length;
}
