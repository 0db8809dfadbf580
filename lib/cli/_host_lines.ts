/**
 * Output of a call on many hosts: each host's text cut into lines, each
 * line prefixed by the host name padded to the longest one, so streams from
 * several hosts interleave line by line and stay readable (as pssh -i and
 * Ansible's `-o` do). A line never mixes two hosts.
 *
 * @module
 */
import { renderChunk, renderResult } from "./render.ts";

/** The longest partial line kept per host; beyond it, the text so far is written as a line. */
const MAX_PARTIAL = 64 * 1024;

/** Turns one host's chunks into prefixed lines. */
export class HostLines {
  readonly prefix: string;
  #decoder = new TextDecoder();
  #partial = "";

  /** `width`: the longest host name, for alignment. */
  constructor(host: string, width: number) {
    this.prefix = `${host.padEnd(width)} | `;
  }

  /** The complete lines in a data chunk, prefixed; a partial line waits for the rest. */
  chunk(chunk: unknown): string {
    return this.#lines(this.#decoder.decode(renderChunk(chunk), { stream: true }));
  }

  /** The call's result, and whatever partial line was left, prefixed. */
  end(result: unknown): string {
    const tail = this.#lines(this.#decoder.decode(renderResult(result)));
    return tail + this.flush();
  }

  /** The partial line, ended, if any. */
  flush(): string {
    const rest = this.#partial + this.#decoder.decode();
    this.#partial = "";
    return rest === "" ? "" : `${this.prefix}${rest}\n`;
  }

  #lines(text: string): string {
    const parts = (this.#partial + text).split("\n");
    this.#partial = parts.pop()!;
    let out = parts.map((line) => `${this.prefix}${line}\n`).join("");
    if (this.#partial.length > MAX_PARTIAL) out += this.flush();
    return out;
  }
}
