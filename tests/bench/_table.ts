/**
 * Renders benchmark rows as a Markdown table (what `deno task bench` prints
 * and what docs/PERFORMANCE.md holds).
 *
 * @module
 */
import type { Row, Target, Unit } from "./_row.ts";
import { formatBytes, formatCount, formatMs, formatRate } from "./_stats.ts";

/** A value with its unit, for humans. */
export function formatValue(value: number, unit: Unit): string {
  switch (unit) {
    case "calls/s":
    case "msgs/s":
      return `${formatCount(value)} ${unit}`;
    case "B/s":
      return formatRate(value);
    case "B/conn":
      return `${formatBytes(value)}/conn`;
    case "B":
      return formatBytes(value);
    case "ms":
      return formatMs(value);
  }
}

/** A target, for humans. */
export function formatTarget(target: Target, unit: Unit): string {
  if (target.text) return target.text;
  switch (target.kind) {
    case "ratio-at-least":
      return `≥ ${target.value}×`;
    case "ratio-at-most":
      return `≤ ${target.value}×`;
    case "at-least":
      return `≥ ${formatValue(target.value, unit)}`;
    case "at-most":
      return `≤ ${formatValue(target.value, unit)}`;
    case "none":
      return "—";
  }
}

function cell(s: string): string {
  return s.replaceAll("|", "\\|");
}

/** The rows as a Markdown table. */
export function renderTable(rows: readonly Row[]): string {
  const head = ["figure", "sockd", "baseline", "ratio", "target", "met"];
  const lines = rows.map((r) => {
    const value = r.na ? `n/a: ${r.na}` : r.value === undefined ? "—" : formatValue(r.value, r.unit);
    const base = r.baselineValue === undefined
      ? r.baseline
      : `${formatValue(r.baselineValue, r.baselineUnit)} (${r.baseline})`;
    const ratio = r.ratio === undefined ? "—" : `${r.ratio.toFixed(2)}×`;
    const met = r.met === undefined ? "—" : r.met ? "yes" : "**no**";
    return [r.figure, value, base, ratio, formatTarget(r.target, r.unit), met];
  });
  const fmt = (cols: string[]) => `| ${cols.map(cell).join(" | ")} |`;
  return [fmt(head), `| ${head.map(() => "---").join(" | ")} |`, ...lines.map(fmt)].join("\n");
}

/** The notes of rows that have one, as a Markdown list. */
export function renderNotes(rows: readonly Row[]): string {
  return rows.filter((r) => r.note).map((r) => `- **${r.figure}**: ${r.note}`).join("\n");
}
