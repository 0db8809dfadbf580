/**
 * Borderless text tables, aligned by display width (wide characters and
 * colour codes included), as `ps` and `docker ps` print them. A thin wrapper
 * of cli-table3, the one module that imports it.
 *
 * @module
 */
import Table from "cli-table3";

const NO_BORDERS = {
  top: "",
  "top-mid": "",
  "top-left": "",
  "top-right": "",
  bottom: "",
  "bottom-mid": "",
  "bottom-left": "",
  "bottom-right": "",
  left: "",
  "left-mid": "",
  mid: "",
  "mid-mid": "",
  right: "",
  "right-mid": "",
  middle: "  ",
};

/**
 * `rows` as aligned columns two spaces apart, under `head` when given; no
 * trailing spaces, no trailing newline.
 *
 * @example
 * ```ts
 * import { formatTable } from "./table.ts";
 * console.assert(formatTable(["A", "B"], [["x", "1"], ["long", "2"]]) === "A     B\nx     1\nlong  2");
 * ```
 */
export function formatTable(
  head: readonly string[] | undefined,
  rows: readonly (readonly string[])[],
): string {
  const table = new Table({
    ...(head ? { head: [...head] } : {}),
    chars: NO_BORDERS,
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0, compact: true },
  });
  for (const row of rows) table.push([...row]);
  return table.toString().split("\n").map((line) => line.trimEnd()).join("\n");
}
