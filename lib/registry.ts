/**
 * Name → command, swapped atomically on reload. A `Map`, so `"toString"` is
 * never a command.
 *
 * @module
 */
import { accessAllows, type AccessLevel, type Command, type CommandInfo } from "./command.ts";
import { compareNames } from "./_name_order.ts";
import type { Runner } from "./runner/runner.ts";

/** A command as registered, with where it came from. */
export interface Entry {
  command: Command;
  info: CommandInfo;
  /** State shared by the commands of one source; survives reloads of that source. */
  state: Map<string, unknown>;
  /**
   * Where calls run: absent for built-in and library commands (inline, the
   * fast path); a plugin version's runner (host process, or inline with a
   * reload signal) otherwise.
   */
  runner?: Runner;
}

/** The set of callable commands. */
export class Registry {
  #entries = new Map<string, Entry>();

  /** The entry for `name`, if any. */
  get(name: string): Entry | undefined {
    return this.#entries.get(name);
  }

  /** All names, for suggestions. */
  names(): IterableIterator<string> {
    return this.#entries.keys();
  }

  /** Number of commands. */
  get size(): number {
    return this.#entries.size;
  }

  /** Descriptions of the commands callable at `access` (all when omitted), sorted. */
  list(access?: AccessLevel): CommandInfo[] {
    return [...this.#entries.values()]
      .filter((e) => access === undefined || accessAllows(access, e.info.access))
      .map((e) => e.info)
      .sort((a, b) => compareNames(a.name, b.name));
  }

  /**
   * Replaces every entry at once (one assignment: a lookup sees the old set
   * or the new one, never a mix); calls in flight keep the entry they started with.
   */
  replace(entries: Map<string, Entry>): void {
    this.#entries = entries;
  }
}
