/**
 * Where the interactive REPL writes: the terminal's stdout and stderr, with
 * track of whether the cursor is at the start of a line, so that messages
 * and errors always get a line of their own.
 *
 * @module
 */
import type { SockdError } from "../errors.ts";
import type { Styles } from "./render.ts";

const encoder = new TextEncoder();

/** The prompt, as the screen needs it to print a message above it. */
export interface PromptHooks {
  /** Whether a prompt is showing. */
  active(): boolean;
  /** Draws the prompt (and the line being edited) again. */
  draw(): void;
}

/** The REPL's terminal output. */
export class ReplScreen {
  /** The styles (colours) in use. */
  readonly st: Styles;
  #prompt: PromptHooks;
  #atLineStart = true;

  constructor(st: Styles, prompt: PromptHooks) {
    this.st = st;
    this.#prompt = prompt;
  }

  /** A failed call or connection, in red, with the status and code when the server sent them. */
  showError(e: SockdError) {
    const label = e.remote ? `(error ${e.status} ${e.code})` : `(error)`;
    this.line(this.st.red(`${label} ${e.message}`));
  }

  /** A message on its own line, above the prompt if one is showing. */
  notice(text: string) {
    if (this.#prompt.active()) {
      this.write(`\r\x1b[K${text}\n`);
      this.#prompt.draw();
    } else {
      this.line(text);
    }
  }

  /** The terminal's width, 80 when it cannot be told. */
  columns(): number {
    try {
      return Deno.consoleSize().columns || 80;
    } catch {
      return 80;
    }
  }

  /** `text` on a line of its own. */
  line(text: string) {
    this.ensureLineStart();
    this.write(text + "\n");
  }

  /** Ends the current line unless the cursor is at the start of one. */
  ensureLineStart() {
    if (!this.#atLineStart) this.write("\n");
  }

  /** Writes text as it is. */
  write(text: string) {
    this.out(encoder.encode(text));
  }

  /** Writes bytes as they are (a command's output). */
  out(bytes: Uint8Array) {
    if (bytes.length === 0) return;
    writeAllSync(Deno.stdout, bytes);
    this.#atLineStart = bytes[bytes.length - 1] === 0x0a;
  }

  /** Writes text to stderr. */
  writeErr(text: string) {
    writeAllSync(Deno.stderr, encoder.encode(text));
  }
}

function writeAllSync(file: { writeSync(p: Uint8Array): number }, bytes: Uint8Array) {
  let off = 0;
  while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
}
