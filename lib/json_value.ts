/**
 * How values that may hold bytes travel as JSON (the jsonl dialect and
 * `sockd call --json`): a `Uint8Array` becomes `{"$base64": "..."}`.
 *
 * @module
 */
import { Buffer } from "node:buffer";

export { toJsonValue } from "./_to_json_value.ts";

/** Reverses {@linkcode toJsonValue}: `{"$base64": …}` objects become bytes again. */
export function fromJsonValue(value: unknown, depth = 0): unknown {
  if (depth > 64) throw new RangeError("Value is nested too deeply to decode");
  if (Array.isArray(value)) return value.map((v) => fromJsonValue(v, depth + 1));
  if (value && typeof value === "object") {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]![0] === "$base64" && typeof entries[0]![1] === "string") {
      return new Uint8Array(Buffer.from(entries[0]![1], "base64"));
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) out[k] = fromJsonValue(v, depth + 1);
    return out;
  }
  return value;
}
