/**
 * How bytes travel as JSON, one way: {@linkcode toJsonValue}. Its own
 * module, node-free, because the cold `sockd call` renders `--json` with it
 * (lib/cli/render.ts) and importing any `node:` module there costs ~7 ms of
 * Node compatibility start-up; lib/json_value.ts re-exports it next to
 * `fromJsonValue`, which keeps node:buffer's lenient base64 reading.
 *
 * @module
 */

/**
 * Replaces bytes anywhere in `value` with `{"$base64": …}` (standard
 * alphabet, padded) so it can be JSON-encoded; bigints become strings.
 * Refuses values nested deeper than 64 levels (RangeError).
 */
export function toJsonValue(value: unknown, depth = 0): unknown {
  if (depth > 64) throw new RangeError("Value is nested too deeply to encode");
  // The platform's base64: as fast as node:buffer's for small values, faster for large (A/B, 5 B to 64 KiB).
  if (value instanceof Uint8Array) return { $base64: value.toBase64() };
  if (Array.isArray(value)) return value.map((v) => toJsonValue(v, depth + 1));
  if (value && typeof value === "object" && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJsonValue(v, depth + 1);
    return out;
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}
