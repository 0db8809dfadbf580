/**
 * The REPL's persistent history: one line per entry in
 * `$XDG_STATE_HOME/sockd/history` (else `$HOME/.local/state/sockd/history`),
 * created 0600 in a 0700 directory, bounded to the last {@linkcode HISTORY_MAX}
 * entries. Each entry is appended as it is typed, so two REPLs running at
 * once do not overwrite each other's lines.
 *
 * @module
 */
import { dirname, isAbsolute, join } from "node:path";

/** Entries kept (in memory and in the file). */
export const HISTORY_MAX = 1000;

/**
 * The history file's path, or undefined when neither `$XDG_STATE_HOME` (an
 * absolute path, as the XDG spec requires) nor `$HOME` is set.
 */
export function defaultHistoryPath(): string | undefined {
  const env = (name: string) => {
    try {
      return Deno.env.get(name) || undefined;
    } catch {
      return undefined; // not granted
    }
  };
  const state = env("XDG_STATE_HOME");
  if (state && isAbsolute(state)) return join(state, "sockd", "history");
  const home = env("HOME");
  return home ? join(home, ".local", "state", "sockd", "history") : undefined;
}

/** Options of {@linkcode History.open}. */
export interface HistoryOptions {
  /** Entries kept. @default {1000} */
  max?: number;
}

/**
 * History entries, oldest first, optionally backed by a file.
 *
 * @example
 * ```ts
 * import { History } from "./_history.ts";
 * const dir = await Deno.makeTempDir();
 * const h = await History.open(`${dir}/history`);
 * await h.add("ping");
 * console.assert((await History.open(`${dir}/history`)).entries[0] === "ping");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class History {
  /** The file, or undefined for an in-memory history. */
  readonly path: string | undefined;
  #entries: string[];
  #max: number;
  /** Lines in the file (it is rewritten to `max` lines once it holds twice as many). */
  #fileLines: number;

  private constructor(path: string | undefined, entries: string[], max: number, fileLines: number) {
    this.path = path;
    this.#entries = entries;
    this.#max = max;
    this.#fileLines = fileLines;
  }

  /**
   * Loads the history at `path` (none: an in-memory history). A missing file
   * is an empty history; the file and its directory are created on the first
   * {@linkcode History.add}. Other errors (unreadable file) reject.
   */
  static async open(path: string | undefined, options: HistoryOptions = {}): Promise<History> {
    const max = options.max ?? HISTORY_MAX;
    if (path === undefined) return new History(undefined, [], max, 0);
    let text = "";
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    const lines = text.split("\n").filter((l) => l.trim() !== "");
    const history = new History(path, lines.slice(-max), max, lines.length);
    if (lines.length > max) await history.#rewrite();
    return history;
  }

  /** The entries, oldest first. */
  get entries(): readonly string[] {
    return this.#entries;
  }

  /**
   * Records a line (without trailing blanks). Blank lines, lines starting with a space (as bash's
   * `ignorespace`), and a repeat of the previous entry are not recorded.
   * Resolves once the line is in the file; a write error rejects (the entry
   * stays in memory).
   */
  async add(typed: string): Promise<void> {
    const line = typed.trimEnd();
    if (line.trim() === "" || line.startsWith(" ") || line.includes("\n")) return;
    if (this.#entries.at(-1) === line) return;
    this.#entries.push(line);
    if (this.#entries.length > this.#max) this.#entries.splice(0, this.#entries.length - this.#max);
    if (this.path === undefined) return;
    await Deno.mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(this.path, line + "\n", { append: true, create: true, mode: 0o600 });
    this.#fileLines++;
    if (this.#fileLines > 2 * this.#max) await this.#rewrite();
  }

  /** Writes the kept entries to the file (atomically, 0600). */
  async #rewrite() {
    const path = this.path!;
    const tmp = `${path}.${Deno.pid}.tmp`;
    await Deno.writeTextFile(tmp, this.#entries.map((e) => e + "\n").join(""), { mode: 0o600 });
    await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, path);
    this.#fileLines = this.#entries.length;
  }
}
