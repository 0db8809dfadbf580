/**
 * The REPL's line editor, free of any terminal: {@linkcode KeyDecoder} turns
 * the bytes a raw-mode terminal sends into keys, {@linkcode LineEditor}
 * applies keys to a line (emacs bindings, as readline), and
 * {@linkcode LineEditor.render} says how to redraw it.
 *
 * @module
 */

/** Named keys the editor understands; control keys are `ctrl-a` … `ctrl-z`. */
export type KeyName =
  | "enter"
  | "tab"
  | "backspace"
  | "delete"
  | "left"
  | "right"
  | "up"
  | "down"
  | "home"
  | "end"
  | "word-left"
  | "word-right"
  | "kill-word-right"
  | "kill-word-left"
  | "escape"
  | "unknown"
  | `ctrl-${string}`;

/** One key press (or a run of typed or pasted text), or the end of input. */
export type Key =
  | { type: "text"; text: string }
  | { type: "key"; name: KeyName }
  | { type: "end" };

/** Decodes terminal input into keys; keeps an escape sequence split across reads. */
export class KeyDecoder {
  #decoder = new TextDecoder();
  #pending = "";
  #lastWasCr = false;

  /** The keys in `bytes` (and in what earlier calls left pending). */
  push(bytes: Uint8Array): Key[] {
    const s = this.#pending + this.#decoder.decode(bytes, { stream: true });
    this.#pending = "";
    const keys: Key[] = [];
    let text = "";
    const key = (name: KeyName) => {
      if (text) keys.push({ type: "text", text });
      text = "";
      keys.push({ type: "key", name });
    };
    let i = 0;
    while (i < s.length) {
      const c = s[i]!;
      const code = c.charCodeAt(0);
      const wasCr = this.#lastWasCr;
      this.#lastWasCr = false;
      if (c === "\x1b") {
        const esc = parseEscape(s, i);
        if (esc === undefined) {
          // An incomplete sequence at the end of this read: wait for the rest.
          this.#pending = s.slice(i);
          break;
        }
        key(esc.name);
        i += esc.length;
        continue;
      }
      i++;
      if (c === "\r") {
        this.#lastWasCr = true;
        key("enter");
      } else if (c === "\n") {
        if (!wasCr) key("enter"); // "\r\n" (a paste) is one Enter
      } else if (c === "\t") {
        key("tab");
      } else if (code === 0x7f || code === 0x08) {
        key("backspace");
      } else if (code >= 1 && code <= 26) {
        key(`ctrl-${String.fromCharCode(code + 96)}`);
      } else if (code < 0x20) {
        key("unknown");
      } else {
        text += c;
      }
    }
    if (text) keys.push({ type: "text", text });
    return keys;
  }
}

/** The key of the escape sequence at `s[i]`, or undefined when it is cut short. */
function parseEscape(s: string, i: number): { name: KeyName; length: number } | undefined {
  const next = s[i + 1];
  // ESC alone is a prefix (Meta, as in readline: ESC b is word-left) or the start of a sequence
  // split across reads: wait for what follows.
  if (next === undefined) return undefined;
  if (next === "[") {
    let j = i + 2;
    while (j < s.length && /[0-9;?<=>]/.test(s[j]!)) j++;
    while (j < s.length && /[ -/]/.test(s[j]!)) j++;
    if (j >= s.length) return j - i > 16 ? { name: "unknown", length: j - i } : undefined;
    const params = s.slice(i + 2, j);
    const final = s[j]!;
    const length = j - i + 1;
    const modified = params.includes(";5") || params.includes(";3");
    switch (final) {
      case "A":
        return { name: "up", length };
      case "B":
        return { name: "down", length };
      case "C":
        return { name: modified ? "word-right" : "right", length };
      case "D":
        return { name: modified ? "word-left" : "left", length };
      case "H":
        return { name: "home", length };
      case "F":
        return { name: "end", length };
      case "~": {
        const n = params.split(";")[0];
        if (n === "1" || n === "7") return { name: "home", length };
        if (n === "4" || n === "8") return { name: "end", length };
        if (n === "3") return { name: "delete", length };
        return { name: "unknown", length };
      }
      default:
        return { name: "unknown", length };
    }
  }
  if (next === "O") {
    const final = s[i + 2];
    if (final === undefined) return undefined;
    const map: Record<string, KeyName> = { A: "up", B: "down", C: "right", D: "left", H: "home", F: "end" };
    return { name: map[final] ?? "unknown", length: 3 };
  }
  // Alt (Meta) + key arrives as ESC + key.
  switch (next) {
    case "b":
      return { name: "word-left", length: 2 };
    case "f":
      return { name: "word-right", length: 2 };
    case "d":
      return { name: "kill-word-right", length: 2 };
    case "\x7f":
    case "\x08":
      return { name: "kill-word-left", length: 2 };
    case "\x1b":
      return { name: "escape", length: 1 };
    default:
      return { name: "unknown", length: 2 };
  }
}

/** What the REPL should do after a key. */
export type EditAction =
  /** Enter: run the line. */
  | { type: "submit"; line: string }
  /** Ctrl-D on an empty line, or the end of input. */
  | { type: "eof" }
  /** Ctrl-C: `line` is what was typed (possibly empty). */
  | { type: "interrupt"; line: string }
  /** Tab. */
  | { type: "complete" }
  /** Ctrl-L. */
  | { type: "clear-screen" }
  /** The line or cursor changed: redraw. */
  | { type: "redraw" }
  /** Nothing to do (e.g. left at the start of the line): ring the bell. */
  | { type: "bell" };

/**
 * A single-line editor with history recall. Positions are in code points, so
 * the cursor never lands inside a surrogate pair.
 *
 * @example
 * ```ts
 * import { LineEditor } from "./_line_editor.ts";
 * const ed = new LineEditor(() => ["ping"]);
 * ed.handle({ type: "text", text: "echo hi" });
 * ed.handle({ type: "key", name: "ctrl-w" });
 * console.assert(ed.text === "echo ");
 * ed.handle({ type: "key", name: "up" });
 * console.assert(ed.text === "ping");
 * ```
 */
export class LineEditor {
  #chars: string[] = [];
  #cursor = 0;
  #history: () => readonly string[];
  /** Index into the history while recalling; equal to its length on the draft line. */
  #recall = 0;
  #draft: string[] = [];
  #killed = "";
  #scroll = 0;

  /** `history` returns the entries, oldest first; it is read on every recall. */
  constructor(history: () => readonly string[] = () => []) {
    this.#history = history;
    this.reset();
  }

  /** The line as typed. */
  get text(): string {
    return this.#chars.join("");
  }

  /** The cursor, in code points from the start of the line. */
  get cursor(): number {
    return this.#cursor;
  }

  /** The line up to the cursor (UTF-16 length = where completion works). */
  get beforeCursor(): string {
    return this.#chars.slice(0, this.#cursor).join("");
  }

  /** Starts a fresh, empty line. */
  reset(): void {
    this.#chars = [];
    this.#cursor = 0;
    this.#scroll = 0;
    this.#recall = this.#history().length;
    this.#draft = [];
  }

  /** Replaces the text between `from` and the cursor (code points) with `text`. */
  replaceBeforeCursor(from: number, text: string): void {
    const start = Math.max(0, Math.min(from, this.#cursor));
    const inserted = Array.from(text);
    this.#chars.splice(start, this.#cursor - start, ...inserted);
    this.#cursor = start + inserted.length;
  }

  /** Applies one key. */
  handle(key: Key): EditAction {
    if (key.type === "end") return { type: "eof" };
    if (key.type === "text") {
      const chars = Array.from(key.text).filter((c) => c >= " " && c !== "\x7f");
      this.#chars.splice(this.#cursor, 0, ...chars);
      this.#cursor += chars.length;
      return { type: "redraw" };
    }
    const n = this.#chars.length;
    switch (key.name) {
      case "enter":
        this.#cursor = n;
        return { type: "submit", line: this.text };
      case "tab":
        return { type: "complete" };
      case "ctrl-c":
        return { type: "interrupt", line: this.text };
      case "ctrl-d":
        if (n === 0) return { type: "eof" };
        return this.#deleteAt(this.#cursor);
      case "ctrl-l":
        return { type: "clear-screen" };
      case "backspace":
      case "ctrl-h":
        if (this.#cursor === 0) return { type: "bell" };
        this.#cursor--;
        return this.#deleteAt(this.#cursor);
      case "delete":
        return this.#deleteAt(this.#cursor);
      case "left":
      case "ctrl-b":
        return this.#moveTo(this.#cursor - 1);
      case "right":
      case "ctrl-f":
        return this.#moveTo(this.#cursor + 1);
      case "home":
      case "ctrl-a":
        return this.#moveTo(0);
      case "end":
      case "ctrl-e":
        return this.#moveTo(n);
      case "word-left":
        return this.#moveTo(this.#wordStart(this.#cursor));
      case "word-right":
        return this.#moveTo(this.#wordEnd(this.#cursor));
      case "ctrl-u":
        return this.#kill(0, this.#cursor);
      case "ctrl-k":
        return this.#kill(this.#cursor, n);
      case "ctrl-w":
      case "kill-word-left":
        return this.#kill(this.#wordStart(this.#cursor), this.#cursor);
      case "kill-word-right":
        return this.#kill(this.#cursor, this.#wordEnd(this.#cursor));
      case "ctrl-y": {
        if (!this.#killed) return { type: "bell" };
        const chars = Array.from(this.#killed);
        this.#chars.splice(this.#cursor, 0, ...chars);
        this.#cursor += chars.length;
        return { type: "redraw" };
      }
      case "up":
      case "ctrl-p":
        return this.#recallAt(this.#recall - 1);
      case "down":
      case "ctrl-n":
        return this.#recallAt(this.#recall + 1);
      default:
        return { type: "bell" };
    }
  }

  /**
   * Terminal output that redraws the line after `prompt` on the current row:
   * a line wider than the terminal scrolls sideways to keep the cursor in view.
   * `promptWidth` is the prompt's width in columns (without colour codes).
   */
  render(prompt: string, promptWidth: number, columns: number): string {
    // Keep the last column free so the cursor never wraps to the next row.
    const room = Math.max(1, columns - promptWidth - 1);
    const widths = this.#chars.map(charWidth);
    const sum = (a: number, b: number) => widths.slice(a, b).reduce((x, y) => x + y, 0);
    if (this.#cursor < this.#scroll) this.#scroll = this.#cursor;
    while (this.#scroll < this.#cursor && sum(this.#scroll, this.#cursor) > room) this.#scroll++;
    // Show as much of the line before the cursor as fits when it was scrolled too far.
    while (this.#scroll > 0 && sum(this.#scroll - 1, this.#chars.length) <= room) this.#scroll--;
    let end = this.#scroll;
    let used = 0;
    while (end < this.#chars.length && used + widths[end]! <= room) used += widths[end++]!;
    const visible = this.#chars.slice(this.#scroll, end).join("");
    const column = promptWidth + sum(this.#scroll, this.#cursor);
    return `\r${prompt}${visible}\x1b[K\r` + (column > 0 ? `\x1b[${column}C` : "");
  }

  #deleteAt(at: number): EditAction {
    if (at >= this.#chars.length) return { type: "bell" };
    this.#chars.splice(at, 1);
    return { type: "redraw" };
  }

  #moveTo(at: number): EditAction {
    if (at < 0 || at > this.#chars.length) return { type: "bell" };
    this.#cursor = at;
    return { type: "redraw" };
  }

  #kill(from: number, to: number): EditAction {
    if (from >= to) return { type: "bell" };
    this.#killed = this.#chars.slice(from, to).join("");
    this.#chars.splice(from, to - from);
    this.#cursor = from;
    return { type: "redraw" };
  }

  #recallAt(index: number): EditAction {
    const history = this.#history();
    if (this.#recall > history.length) this.#recall = history.length;
    if (index < 0 || index > history.length) return { type: "bell" };
    if (this.#recall === history.length) this.#draft = [...this.#chars];
    this.#recall = index;
    this.#chars = index === history.length ? [...this.#draft] : Array.from(history[index]!);
    this.#cursor = this.#chars.length;
    return { type: "redraw" };
  }

  #wordStart(from: number): number {
    let i = from;
    while (i > 0 && isBlank(this.#chars[i - 1]!)) i--;
    while (i > 0 && !isBlank(this.#chars[i - 1]!)) i--;
    return i;
  }

  #wordEnd(from: number): number {
    let i = from;
    const n = this.#chars.length;
    while (i < n && isBlank(this.#chars[i]!)) i++;
    while (i < n && !isBlank(this.#chars[i]!)) i++;
    return i;
  }
}

function isBlank(c: string): boolean {
  return c === " " || c === "\t";
}

/**
 * Columns a code point takes on a terminal: 0 for combining marks, 2 for
 * East Asian wide characters and most emoji, 1 otherwise (an approximation
 * of wcwidth that covers what people type).
 */
export function charWidth(c: string): number {
  const cp = c.codePointAt(0) ?? 0;
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f)) {
    return 0;
  }
  if (
    (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

/** Width in columns of `text` (no escape sequences). */
export function textWidth(text: string): number {
  let w = 0;
  for (const c of text) w += charWidth(c);
  return w;
}
