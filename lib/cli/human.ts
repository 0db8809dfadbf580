/**
 * Structured results for people, on a terminal (`sockd call stats`): a list
 * of records as a table, a record as aligned `key: value` lines (nested
 * records as dotted keys), and inside a record, a list of records or a map
 * of records as a table of its own under its key. Scripts get JSON instead
 * (`--json`, or any output that is not a terminal).
 *
 * @module
 */
import { formatTable } from "../table.ts";

type Row = Record<string, unknown>;

function isRecord(v: unknown): v is Row {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function isRecordList(v: unknown): v is Row[] {
  return Array.isArray(v) && v.length > 0 && v.every(isRecord);
}

/** A map whose values are all records (stats' `commands`): a table keyed by its keys. */
function isRecordMap(v: unknown): v is Record<string, Row> {
  const values = isRecord(v) ? Object.values(v) : [];
  return values.length > 0 && values.every(isRecord);
}

/** One cell: scalars as they are, lists joined, small records as `k=v`. */
function cell(v: unknown): string {
  if (v === null || v === undefined) return "-";
  if (Array.isArray(v)) return v.length === 0 ? "-" : v.map(cell).join(",");
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  if (isRecord(v)) {
    const parts = Object.entries(v).map(([k, x]) => `${k}=${cell(x)}`);
    return parts.length === 0 ? "-" : parts.join(" ");
  }
  return String(v);
}

function table(rows: Row[], first?: string, keys?: string[]): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const head = [...(first ? [first] : []), ...columns].map((c) => c.toUpperCase());
  return formatTable(
    head,
    rows.map((r, i) => [...(keys ? [keys[i]!] : []), ...columns.map((c) => cell(r[c]))]),
  );
}

/** The text of a structured result for people (no trailing newline). */
export function renderHuman(value: unknown): string {
  if (isRecordList(value)) return table(value);
  if (isRecordMap(value)) return table(Object.values(value), "name", Object.keys(value));
  if (!isRecord(value)) return Array.isArray(value) ? value.map(cell).join("\n") : cell(value);
  const pairs: string[][] = [];
  const sections: string[] = [];
  const walk = (record: Row, prefix: string) => {
    for (const [k, v] of Object.entries(record)) {
      const key = prefix + k;
      if (isRecordList(v) || isRecordMap(v)) sections.push(`${key}:\n${indent(renderHuman(v))}`);
      else if (isRecord(v) && Object.keys(v).length > 0) walk(v, `${key}.`);
      else pairs.push([`${key}:`, cell(v)]);
    }
  };
  walk(value, "");
  return [...(pairs.length ? [formatTable(undefined, pairs)] : []), ...sections].join("\n\n");
}

function indent(text: string): string {
  return text.split("\n").map((l) => "  " + l).join("\n");
}
