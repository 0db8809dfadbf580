/**
 * The order command names are listed in (`help`, `stats`, completion): the
 * order `localeCompare` gave them, without ICU. The first `localeCompare`
 * of a process maps ICU's collation code and data, which an idle server
 * kept for good after its first `help` (Deno 2.9.6: a script's RssFile
 * grows 4.2 MiB with one `localeCompare` sort, 1.4 with a plain one; the
 * idle server with the examples, after `help`, 59.8–60.1 → 57.7–59.0 MiB).
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
