/**
 * Parses durations typed on the command line: `500ms`, `5s`, `2m`, or a bare
 * number of seconds.
 *
 * @module
 */

/** Milliseconds in `text`, or throws a message saying what is accepted. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`Invalid duration "${text}" (use e.g. 500ms, 5s, 2m, or seconds)`);
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  const ms = unit === "ms" ? n : unit === "s" ? n * 1000 : unit === "m" ? n * 60_000 : n * 3_600_000;
  return Math.round(ms);
}
