/**
 * Reads lines from a byte stream with a bound on their length, for the REPL
 * when its input is not a terminal (`printf 'ping\n' | sockd repl`). The
 * splitting is the text dialect's {@linkcode LineReader}: a line ends at
 * `\n` (a `\r` before it is dropped), and an over-long line is reported once
 * and skipped up to its newline, so memory stays bounded.
 *
 * @module
 */
import { type LineItem, LineReader } from "../dialects/_line_reader.ts";

/** One line of input, or a line that was too long (its text is dropped). */
export type InputLine = { line: string } | { tooLong: number };

/**
 * The lines of `input` (without their `\n` or `\r\n`); a last line without a
 * newline counts. A line longer than `maxBytes` is reported as `tooLong` and
 * skipped up to its newline.
 */
export async function* inputLines(
  input: ReadableStream<Uint8Array>,
  maxBytes = 1024 * 1024,
): AsyncGenerator<InputLine> {
  const reader = new LineReader(maxBytes);
  const decoder = new TextDecoder();
  // Decoded at once: a line may be a view of the chunk it came in.
  const convert = (items: LineItem[]): InputLine[] =>
    items.map((item) =>
      item.type === "line" ? { line: decoder.decode(item.bytes) } : { tooLong: item.limit }
    );
  for await (const chunk of input) yield* convert(reader.push(chunk));
  yield* convert(reader.end());
}
