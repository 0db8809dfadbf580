/**
 * Ctrl-R in the REPL: an incremental search back through history, as
 * readline's reverse-i-search. Free of any terminal: keys in, state out.
 *
 * @module
 */
import type { Key } from "./_line_editor.ts";

/** What the REPL does after a key in search mode. */
export type SearchAction =
  /** The query or match changed: redraw the search line. */
  | { type: "redraw" }
  /** Enter: run `line`. */
  | { type: "run"; line: string }
  /** An arrow or editing key: leave search with `line` in the editor, and apply `key` there. */
  | { type: "edit"; line: string; key?: Key }
  /** Ctrl-G or Escape: back to the line as it was. */
  | { type: "cancel" };

/**
 * The search state.
 *
 * @example
 * ```ts
 * import { HistorySearch } from "./_history_search.ts";
 * const s = new HistorySearch(["ping", "echo one", "status", "echo two"]);
 * s.handle({ type: "text", text: "echo" });
 * console.assert(s.match === "echo two");
 * s.handle({ type: "key", name: "ctrl-r" });
 * console.assert(s.match === "echo one");
 * ```
 */
export class HistorySearch {
  #entries: readonly string[];
  query = "";
  /** Index of the match in the entries (oldest first); -1 for none. */
  #at = -1;
  failed = false;

  /** `entries` oldest first. */
  constructor(entries: readonly string[]) {
    this.#entries = entries;
  }

  /** The entry found, or "" when none is. */
  get match(): string {
    return this.#at >= 0 ? this.#entries[this.#at]! : "";
  }

  /** The line to draw: `(reverse-i-search)'QUERY': MATCH`. */
  get prompt(): string {
    return `(${this.failed ? "failed " : ""}reverse-i-search)'${this.query}': `;
  }

  handle(key: Key): SearchAction {
    if (key.type === "end") return { type: "cancel" };
    if (key.type === "text") {
      this.query += key.text;
      this.#find(this.#at >= 0 ? this.#at : this.#entries.length - 1);
      return { type: "redraw" };
    }
    switch (key.name) {
      case "ctrl-r":
        this.#find(this.#at - 1, true);
        return { type: "redraw" };
      case "backspace":
      case "ctrl-h":
        this.query = Array.from(this.query).slice(0, -1).join("");
        this.#find(this.#entries.length - 1);
        return { type: "redraw" };
      case "enter":
        return { type: "run", line: this.match };
      case "ctrl-g":
      case "escape":
      case "ctrl-c":
        return { type: "cancel" };
      default:
        return { type: "edit", line: this.match, key };
    }
  }

  /** The newest entry at or before `from` containing the query; `keep` keeps the old match when none is. */
  #find(from: number, keep = false) {
    for (let i = Math.min(from, this.#entries.length - 1); i >= 0; i--) {
      if (this.#entries[i]!.includes(this.query)) {
        this.#at = i;
        this.failed = false;
        return;
      }
    }
    this.failed = true;
    if (!keep && this.query === "") this.#at = -1;
  }
}

/**
 * Runs one search on a terminal: draws `(reverse-i-search)'q': match` on the
 * current row after each key from `take`, until the search ends; returns how.
 */
export async function searchHistory(
  entries: readonly string[],
  take: () => Promise<Key>,
  write: (text: string) => void,
): Promise<Exclude<SearchAction, { type: "redraw" }>> {
  const search = new HistorySearch(entries);
  while (true) {
    write(`\r${search.prompt}${search.match}\x1b[K`);
    const action = search.handle(await take());
    if (action.type !== "redraw") return action;
  }
}
