/**
 * Picks a connection's dialect from its first byte.
 *
 * @module
 */
import type { DialectFactory } from "./dialect.ts";
import { msgpackDialect } from "./msgpack.ts";

/** The dialects a server speaks, tried in order; the last one that matches everything is the fallback. */
export const DIALECTS: readonly DialectFactory[] = [msgpackDialect];

/** The dialect for a connection whose first byte is `firstByte`, if any. */
export function detectDialect(
  firstByte: number,
  dialects: readonly DialectFactory[] = DIALECTS,
): DialectFactory | undefined {
  return dialects.find((d) => d.matches(firstByte));
}
