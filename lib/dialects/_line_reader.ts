/**
 * Splits a byte stream into lines, holding at most one line's worth of bytes.
 * Shared by the text and JSON lines dialects.
 *
 * A line ends at `\n`; a `\r` just before it is dropped, so `\r\n` works too.
 * A line longer than the limit is reported once, as soon as it crosses the
 * limit, and its remaining bytes are dropped up to the next newline: only a
 * counter is kept, so a client that never sends a newline cannot grow memory.
 *
 * @module
 */

/** What the reader finds in the stream. */
export type LineItem =
  /** A whole line without its terminator (may be a view of the pushed chunk). */
  | { type: "line"; bytes: Uint8Array }
  /** A line crossed the limit; its bytes up to the next newline are being dropped. */
  | { type: "too-long"; limit: number };

const LF = 0x0a;
const CR = 0x0d;

/** Incremental, bounded line splitter; see the module doc. */
export class LineReader {
  #max: number;
  /** Made when a line first straddles chunks: an idle connection holds none. */
  #buf: Uint8Array | undefined;
  #len = 0;
  /** Bytes dropped from the current over-long line, or -1 when not dropping. */
  #dropping = -1;

  /** @param maxLineBytes longest line accepted, not counting its `\n` or `\r\n` */
  constructor(maxLineBytes: number) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) {
      throw new RangeError(`maxLineBytes must be a positive integer, got ${maxLineBytes}`);
    }
    this.#max = maxLineBytes;
  }

  /** Bytes held for an unfinished line (never more than the limit plus one). */
  get buffered(): number {
    return this.#len;
  }

  /** Bytes dropped so far from the over-long line being skipped (0 when none). */
  get dropped(): number {
    return Math.max(this.#dropping, 0);
  }

  /** A copy of the unfinished line's bytes; undefined while an over-long line is being dropped. */
  pending(): Uint8Array | undefined {
    return this.#dropping >= 0 ? undefined : (this.#buf?.slice(0, this.#len) ?? new Uint8Array(0));
  }

  /** Feeds bytes; returns what they complete, in order. */
  push(chunk: Uint8Array): LineItem[] {
    const items: LineItem[] = [];
    let off = 0;
    while (off < chunk.length) {
      const nl = chunk.indexOf(LF, off);
      const end = nl === -1 ? chunk.length : nl;
      if (this.#dropping >= 0) {
        this.#dropping += end - off;
      } else if (this.#len === 0 && nl !== -1 && end - off <= this.#max + 1) {
        // The common case: a whole line inside the chunk, no copy.
        this.#emit(chunk.subarray(off, end), items);
      } else {
        this.#take(chunk.subarray(off, end), items);
        if (nl !== -1 && this.#dropping < 0) {
          // A copy: the rest of this chunk may start a new line in #buf.
          this.#emit(this.#buf!.slice(0, this.#len), items);
        }
      }
      if (nl === -1) break;
      // The newline ends the current line, whether kept or dropped.
      this.#len = 0;
      this.#dropping = -1;
      off = nl + 1;
    }
    return items;
  }

  /** The stream ended: returns a last line that had no newline, if any. */
  end(): LineItem[] {
    const items: LineItem[] = [];
    if (this.#dropping < 0 && this.#len > 0) this.#emit(this.#buf!.slice(0, this.#len), items);
    this.#len = 0;
    this.#dropping = -1;
    return items;
  }

  /** Appends part of an unfinished line, switching to dropping past the limit. */
  #take(part: Uint8Array, items: LineItem[]) {
    // One byte over the limit is allowed while we cannot tell whether it is a `\r`.
    if (this.#len + part.length > this.#max + 1) {
      this.#tooLong(this.#len + part.length, items);
      return;
    }
    let buf = this.#buf;
    if (!buf || this.#len + part.length > buf.length) {
      // Small at first (256 B), doubling as a line needs it.
      const next = new Uint8Array(
        Math.min(Math.max((buf?.length ?? 128) * 2, this.#len + part.length), this.#max + 1),
      );
      if (buf) next.set(buf.subarray(0, this.#len));
      buf = this.#buf = next;
    }
    buf.set(part, this.#len);
    this.#len += part.length;
  }

  #emit(line: Uint8Array, items: LineItem[]) {
    const bytes = line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line;
    if (bytes.length > this.#max) this.#tooLong(bytes.length, items);
    else items.push({ type: "line", bytes });
  }

  #tooLong(seen: number, items: LineItem[]) {
    items.push({ type: "too-long", limit: this.#max });
    this.#len = 0;
    this.#dropping = seen;
  }
}
