/**
 * The {@linkcode RequestDecoder} of the line dialects (text, JSON lines):
 * lines from a {@linkcode LineReader}, each turned into requests by the
 * dialect when the session asks for the next one, not before.
 *
 * @module
 */
import type { Request, RequestDecoder } from "./dialect.ts";
import { type LineItem, LineReader } from "./_line_reader.ts";

const NONE: never[] = [];
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A line as the dialect gets it: `text` is the line decoded, when the
 * decoder already knows it (an ASCII chunk is decoded once for all its lines).
 */
export type DecodedLine = Exclude<LineItem, { type: "line" }> | {
  type: "line";
  bytes: Uint8Array;
  text?: string;
};

/** Lines to requests, lazily; stops for good after a `quit` request. */
export class LineRequestDecoder implements RequestDecoder {
  #lines: LineReader;
  #toRequests: (item: DecodedLine) => Request[];
  /** Whether a chunk's text waits for the first line that asks for it (see {@linkcode LineRequestDecoder.text}). */
  #lazy: boolean;
  /** The chunk of `#items` while its text is not decoded yet (lazy only). */
  #chunk: Uint8Array | undefined;
  #items: DecodedLine[] = NONE;
  #item = 0;
  #reqs: Request[] = NONE;
  #req = 0;
  #done = false;

  /**
   * @param maxLineBytes longest line accepted
   * @param toRequests the requests one line stands for (called in order, as they are needed)
   * @param lazyText leave `text` unset until the dialect asks {@linkcode LineRequestDecoder.text} (a
   *   dialect that reads most lines from their bytes)
   */
  constructor(maxLineBytes: number, toRequests: (item: DecodedLine) => Request[], lazyText = false) {
    this.#lines = new LineReader(maxLineBytes);
    this.#toRequests = toRequests;
    this.#lazy = lazyText;
  }

  /**
   * The text of `item`, a line of the chunk being decoded, when it is known
   * or the chunk is all ASCII (the whole chunk is then decoded once, for
   * this line and the ones after it); otherwise undefined, and the caller
   * decodes the line's bytes itself.
   */
  text(item: Extract<DecodedLine, { type: "line" }>): string | undefined {
    const chunk = this.#chunk;
    if (chunk !== undefined) {
      this.#chunk = undefined;
      decodeAscii(chunk, this.#items);
    }
    return item.text;
  }

  get done(): boolean {
    return this.#done;
  }

  push(chunk: Uint8Array): void {
    if (this.#done) return;
    const items: DecodedLine[] = this.#lines.push(chunk);
    this.#chunk = undefined;
    if (items.length > 1) {
      if (this.#lazy) this.#chunk = chunk;
      else decodeAscii(chunk, items);
    }
    this.#items = items;
    this.#item = 0;
  }

  end(): void {
    if (this.#done) return;
    this.#items = this.#lines.end();
    this.#chunk = undefined;
    this.#item = 0;
  }

  remainder(): Uint8Array | undefined {
    if (this.#done || this.#item < this.#items.length || this.#req < this.#reqs.length) return undefined;
    return this.#lines.pending();
  }

  next(): Request | undefined {
    while (true) {
      if (this.#req < this.#reqs.length) {
        const req = this.#reqs[this.#req++]!;
        if (req.type === "quit") {
          this.#done = true;
          this.#items = NONE;
          this.#reqs = NONE;
        }
        return req;
      }
      if (this.#done) return undefined;
      if (this.#item >= this.#items.length) {
        // Used up: let go of the chunk's lines and the last requests, which an idle connection kept
        // (views of the read buffer, the request objects: 470 B per connection idle after a text ping).
        if (this.#items !== NONE) {
          this.#items = this.#reqs = NONE;
          this.#item = this.#req = 0;
          this.#chunk = undefined;
        }
        return undefined;
      }
      this.#reqs = this.#toRequests(this.#items[this.#item++]!);
      this.#req = 0;
    }
  }
}

/** Lines up to this many bytes are decoded by `decodeUtf8` itself when they are all ASCII. */
const SHORT_LINE = 64;

/**
 * `bytes` decoded as UTF-8, as a fatal `TextDecoder` does (it throws on bad
 * UTF-8). A short all-ASCII line is made by `String.fromCharCode` rather
 * than an op call into the decoder: ~60 ns instead of ~315 ns for a 5-byte
 * line, in process (the op was ~17% of the server's JS time with 16 strict
 * text connections); the op wins from ~80 bytes on.
 */
export function decodeUtf8(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n <= SHORT_LINE) {
    let i = 0;
    while (i < n && bytes[i]! < 0x80) i++;
    if (i === n) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  return utf8.decode(bytes);
}

/**
 * Decodes the lines that are views of `chunk` with one decoder call for the
 * whole chunk when it is all ASCII (one call per line was ~13% of the busy
 * CPU with 16 pipelined JSON lines). Other chunks are left for the dialect
 * to decode line by line, so a bad line still gets its own error.
 */
function decodeAscii(chunk: Uint8Array, items: DecodedLine[]) {
  let text: string;
  try {
    text = decodeUtf8(chunk);
  } catch {
    return;
  }
  // As many UTF-16 units as bytes only when every byte is ASCII (no BOM, no multi-byte sequence).
  if (text.length !== chunk.length) return;
  for (const item of items) {
    if (item.type !== "line" || item.bytes.buffer !== chunk.buffer) continue;
    const start = item.bytes.byteOffset - chunk.byteOffset;
    if (start < 0 || start + item.bytes.length > chunk.length) continue;
    item.text = text.slice(start, start + item.bytes.length);
  }
}
