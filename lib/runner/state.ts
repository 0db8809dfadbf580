/**
 * Per-plugin state that survives reloads: one map per plugin file, held by
 * the server. Inline plugins use the map itself; each plugin host holds a
 * write-through copy whose changes come back here and go on to the other
 * live hosts of the same file (an old version finishing calls and the new
 * one). Values cross the process boundary as msgpack.
 *
 * @module
 */
import { encode } from "../codec.ts";
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
  #sizes = new Map<string, number>();
  #bytes = 0;

  /** Encoded bytes of the values set through {@linkcode PluginState.apply} with a size. */
  get bytes(): number {
    return this.#bytes;
  }

  /** What `bytes` would be with `key` set to a value of `size` bytes. */
  bytesWith(key: string, size: number): number {
    return this.#bytes - (this.#sizes.get(key) ?? 0) + size;
  }

  /**
   * Applies a change and tells every subscriber but `from`; `size` is the
   * encoded size of a set value, counted in {@linkcode PluginState.bytes}.
   */
  apply(op: StateOp, from?: StateListener, size = 0): void {
    if (op.op === "set") {
      this.map.set(op.key, op.value);
      this.#bytes = this.bytesWith(op.key, size);
      this.#sizes.set(op.key, size);
    } else if (op.op === "delete") {
      this.map.delete(op.key);
      this.#bytes -= this.#sizes.get(op.key) ?? 0;
      this.#sizes.delete(op.key);
    } else {
      this.map.clear();
      this.#sizes.clear();
      this.#bytes = 0;
    }
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

/**
 * Applies a state change a host sent, within the plugin's budgets; returns
 * the budget it would break (and applies nothing), else undefined.
 */
export function applyHostState(
  state: PluginState,
  op: StateOp,
  from: StateListener,
  limits: { maxStateEntries: number; maxStateBytes: number },
): string | undefined {
  if (op.op !== "set") {
    state.apply(op, from);
    return undefined;
  }
  const size = op.key.length + encode(op.value).length;
  const entries = state.map.has(op.key) ? state.map.size : state.map.size + 1;
  if (entries > limits.maxStateEntries) return `${limits.maxStateEntries} keys`;
  if (state.bytesWith(op.key, size) > limits.maxStateBytes) return `${limits.maxStateBytes >> 20} MiB`;
  state.apply(op, from, size);
  return undefined;
}
