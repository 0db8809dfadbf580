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

/** Lines to requests, lazily; stops for good after a `quit` request. */
export class LineRequestDecoder implements RequestDecoder {
  #lines: LineReader;
  #toRequests: (item: LineItem) => Request[];
  #items: LineItem[] = NONE;
  #item = 0;
  #reqs: Request[] = NONE;
  #req = 0;
  #done = false;

  /**
   * @param maxLineBytes longest line accepted
   * @param toRequests the requests one line stands for (called in order, as they are needed)
   */
  constructor(maxLineBytes: number, toRequests: (item: LineItem) => Request[]) {
    this.#lines = new LineReader(maxLineBytes);
    this.#toRequests = toRequests;
  }

  get done(): boolean {
    return this.#done;
  }

  push(chunk: Uint8Array): void {
    if (this.#done) return;
    this.#items = this.#lines.push(chunk);
    this.#item = 0;
  }

  end(): void {
    if (this.#done) return;
    this.#items = this.#lines.end();
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
      if (this.#done || this.#item >= this.#items.length) return undefined;
      this.#reqs = this.#toRequests(this.#items[this.#item++]!);
      this.#req = 0;
    }
  }
}
