/**
 * Tab completion for the REPL, from the server's own introspection: command
 * names from `help --json`, flags from `help --json COMMAND`, so plugin
 * commands complete like the built-ins.
 *
 * @module
 */
import type { Client } from "../client.ts";
import type { CommandInfo } from "../command.ts";
import { currentWord } from "./_words.ts";

/** What completion needs to know about the server's commands. */
export interface Catalog {
  /** Names of the commands this connection may call. */
  names(): Promise<string[]>;
  /** One command's description, or undefined when the server has no such command. */
  info(name: string): Promise<CommandInfo | undefined>;
}

/** The candidates for the word under the cursor. */
export interface Completion {
  /** Where the word starts in the line (a UTF-16 index). */
  start: number;
  /** The word as typed so far. */
  word: string;
  /** Full words that start with `word`, sorted. */
  candidates: string[];
}

/**
 * Completes the word before `cursor` (a UTF-16 index into `line`): the first
 * word against command names, a word starting with `-` against the command's
 * flags, and the argument of `help` against command names.
 */
export async function complete(line: string, cursor: number, catalog: Catalog): Promise<Completion> {
  const { start, index, quoted } = currentWord(line, cursor);
  const word = line.slice(start, cursor);
  const none = { start, word, candidates: [] };
  if (quoted) return none;
  let pool: string[];
  if (index === 0) {
    pool = await catalog.names();
  } else {
    const command = line.slice(0, cursor).trimStart().split(/[ \t]+/)[0]!;
    if (word.startsWith("-")) {
      const info = await catalog.info(command);
      pool = info ? Object.keys(info.flags).map((f) => `--${f}`) : [];
    } else if (command === "help") {
      pool = await catalog.names();
    } else {
      return none;
    }
  }
  return { start, word, candidates: pool.filter((c) => c.startsWith(word)).sort() };
}

/** The longest prefix all `words` share. */
export function commonPrefix(words: readonly string[]): string {
  if (words.length === 0) return "";
  let prefix = words[0]!;
  for (const w of words) {
    while (!w.startsWith(prefix)) prefix = prefix.slice(0, -1);
  }
  return prefix;
}

/** `items` laid out in columns that fit `width`, as lines ending in "\n". */
export function formatColumns(items: readonly string[], width: number): string {
  if (items.length === 0) return "";
  const cell = Math.max(...items.map((i) => i.length)) + 2;
  const perRow = Math.max(1, Math.floor(width / cell));
  const rows = Math.ceil(items.length / perRow);
  let out = "";
  for (let r = 0; r < rows; r++) {
    let line = "";
    for (let c = 0; c < perRow; c++) {
      const item = items[c * rows + r];
      if (item !== undefined) line += item.padEnd(cell);
    }
    out += line.trimEnd() + "\n";
  }
  return out;
}

/** Options of {@linkcode ServerCatalog}. */
export interface ServerCatalogOptions {
  /** Deadline of each `help` call, in ms. @default {2000} */
  timeoutMs?: number;
}

/**
 * A {@linkcode Catalog} that asks the server, caching answers until
 * {@linkcode ServerCatalog.invalidate} (called on reconnect: a restarted
 * server may have other plugins). Errors give empty answers: completion is
 * best effort and never gets in the way.
 */
export class ServerCatalog implements Catalog {
  #client: () => Client | undefined;
  #timeoutMs: number;
  #names: Promise<string[]> | undefined;
  #infos = new Map<string, Promise<CommandInfo | undefined>>();

  /** `client` returns the live connection, or undefined while there is none. */
  constructor(client: () => Client | undefined, options: ServerCatalogOptions = {}) {
    this.#client = client;
    this.#timeoutMs = options.timeoutMs ?? 2000;
  }

  /** Forgets what the server said. */
  invalidate(): void {
    this.#names = undefined;
    this.#infos.clear();
  }

  names(): Promise<string[]> {
    this.#names ??= this.#ask([]).then((list) =>
      Array.isArray(list) ? list.map((c) => String((c as { name: unknown }).name)) : []
    );
    return this.#forgetOnEmpty(this.#names, () => this.#names = undefined);
  }

  info(name: string): Promise<CommandInfo | undefined> {
    let p = this.#infos.get(name);
    if (!p) {
      p = this.#ask([name]).then((v) => {
        if (v && typeof v === "object") return v as CommandInfo;
        this.#infos.delete(name); // unknown or unreachable: ask again next time
        return undefined;
      });
      this.#infos.set(name, p);
    }
    return p;
  }

  async #ask(args: string[]): Promise<unknown> {
    const client = this.#client();
    if (!client) return undefined;
    try {
      return await client.call("help", ["--json", ...args], { timeoutMs: this.#timeoutMs }).result;
    } catch {
      return undefined;
    }
  }

  /** Does not cache an empty answer (the server may have been unreachable). */
  async #forgetOnEmpty(p: Promise<string[]>, forget: () => void): Promise<string[]> {
    const v = await p;
    if (v.length === 0) forget();
    return v;
  }
}
