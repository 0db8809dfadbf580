/**
 * Reads lines from a byte stream with a bound on their length, for the REPL
 * when its input is not a terminal (`printf 'ping\n' | sockd repl`).
 *
 * @module
 */

/** One line of input, or a line that was too long (its text is dropped). */
export type InputLine = { line: string } | { tooLong: number };

/**
 * The lines of `input` (without their `\n` or `\r\n`); a last line without a
 * newline counts. A line longer than `maxBytes` is reported as `tooLong` and
 * skipped up to its newline, so memory stays bounded.
 */
export async function* inputLines(
  input: ReadableStream<Uint8Array>,
  maxBytes = 1024 * 1024,
): AsyncGenerator<InputLine> {
  const decoder = new TextDecoder();
  let parts: Uint8Array[] = [];
  let size = 0;
  let skipping = false;
  const take = (): InputLine => {
    const buf = new Uint8Array(size);
    let off = 0;
    for (const p of parts) {
      buf.set(p, off);
      off += p.length;
    }
    parts = [];
    size = 0;
    return { line: decoder.decode(buf).replace(/\r$/, "") };
  };
  for await (const chunk of input) {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!skipping) {
        if (size + end - start > maxBytes) {
          skipping = true;
          parts = [];
          size = 0;
        } else {
          parts.push(chunk.slice(start, end));
          size += end - start;
        }
      }
      if (nl === -1) break;
      if (skipping) {
        skipping = false;
        yield { tooLong: maxBytes };
      } else {
        yield take();
      }
      start = nl + 1;
    }
  }
  if (skipping) yield { tooLong: maxBytes };
  else if (size > 0) yield take();
}
