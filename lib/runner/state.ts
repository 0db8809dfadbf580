/**
 * Per-plugin state that survives reloads: one map per plugin file, held by
 * the server. Inline plugins use the map itself; each plugin host holds a
 * write-through copy whose changes come back here and go on to the other
 * live hosts of the same file (an old version finishing calls and the new
 * one). Values cross the process boundary as msgpack.
 *
 * @module
 */
import type { StateOp } from "./host_protocol.ts";

/** A subscriber: a live host of the plugin file. */
export type StateListener = (op: StateOp) => void;

/**
 * The state of one plugin file.
 *
 * @example
 * ```ts
 * import { PluginState } from "./state.ts";
 * const state = new PluginState();
 * const seen: string[] = [];
 * const off = state.subscribe((op) => seen.push(op.op));
 * state.apply({ op: "set", key: "visits", value: 1 });
 * off();
 * console.assert(state.map.get("visits") === 1 && seen.length === 1);
 * ```
 */
export class PluginState {
  /** The values, as the server holds them. */
  readonly map: Map<string, unknown> = new Map();
  #listeners = new Set<StateListener>();

  /** Applies a change and tells every subscriber but `from`. */
  apply(op: StateOp, from?: StateListener): void {
    if (op.op === "set") this.map.set(op.key, op.value);
    else if (op.op === "delete") this.map.delete(op.key);
    else this.map.clear();
    for (const listener of this.#listeners) {
      if (listener !== from) listener(op);
    }
  }

  /** The entries, for a host that starts. */
  snapshot(): [string, unknown][] {
    return [...this.map.entries()];
  }

  /** Subscribes a live host; returns the unsubscribe function. */
  subscribe(listener: StateListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
