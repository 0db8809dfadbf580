/**
 * Picks a connection's dialect from its first byte.
 *
 * @module
 */
import type { DialectFactory } from "./dialect.ts";
import { jsonlDialect } from "./jsonl.ts";
import { msgpackDialect } from "./msgpack.ts";
import { textDialect } from "./text.ts";

/**
 * The dialects a server speaks, tried in order: msgpack (first byte NUL),
 * JSON lines (first byte `{`), and text, the fallback that matches everything.
 */
export const DIALECTS: readonly DialectFactory[] = [msgpackDialect, jsonlDialect, textDialect];

/** The dialect for a connection whose first byte is `firstByte`, if any. */
export function detectDialect(
  firstByte: number,
  dialects: readonly DialectFactory[] = DIALECTS,
): DialectFactory | undefined {
  return dialects.find((d) => d.matches(firstByte));
}
