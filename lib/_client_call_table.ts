/**
 * The calls in flight on one client connection, by id: what a
 * `Map<number, Call>` did, for the ids a client hands out (1, 2, 3, ...).
 *
 * A call sits in slot `id & mask` of an array kept at least four times as
 * long as the calls in flight, so ids handed out one after another rarely
 * meet; a call whose slot is taken (one still in flight from many ids ago)
 * goes to a small map. Why: with 64 calls in flight the map's set, get and
 * delete were ~11% of the client's CPU per call in process (`deno task
 * bench:micro`, client_bench.ts).
 *
 * @module
 */

/** What the table needs of a call: its id. */
interface HasId {
  readonly id: number;
}

/** Calls in flight by id; the subset of `Map` that lib/_client_calls.ts uses. */
export class CallTable<C extends HasId> {
  #slots: (C | undefined)[] = new Array(64).fill(undefined);
  #mask = 63;
  /** Calls whose slot was taken when they started. */
  #spill = new Map<number, C>();
  #size = 0;

  /** Calls in flight. */
  get size(): number {
    return this.#size;
  }

  /** Adds `call` (its id is not in the table). */
  set(id: number, call: C): void {
    if (4 * ++this.#size > this.#slots.length) this.#grow();
    const at = id & this.#mask;
    if (this.#slots[at] === undefined) this.#slots[at] = call;
    else this.#spill.set(id, call);
  }

  /** The call in flight with `id` (any value a server sent as an id). */
  get(id: unknown): C | undefined {
    const call = this.#slots[(id as number) & this.#mask];
    if (call !== undefined && call.id === id) return call;
    return this.#spill.size > 0 ? this.#spill.get(id as number) : undefined;
  }

  /** Forgets call `id`; whether it was there. */
  delete(id: unknown): boolean {
    const at = (id as number) & this.#mask;
    const call = this.#slots[at];
    if (call !== undefined && call.id === id) this.#slots[at] = undefined;
    else if (!this.#spill.delete(id as number)) return false;
    this.#size--;
    return true;
  }

  /** Every call in flight. */
  values(): C[] {
    const out: C[] = [];
    for (const call of this.#slots) if (call !== undefined) out.push(call);
    for (const call of this.#spill.values()) out.push(call);
    return out;
  }

  /** Forgets every call. */
  clear(): void {
    this.#slots.fill(undefined);
    this.#spill.clear();
    this.#size = 0;
  }

  /** Doubles the slots, placing every call again. */
  #grow() {
    const calls = this.values();
    this.#slots = new Array(this.#slots.length * 2).fill(undefined);
    this.#mask = this.#slots.length - 1;
    this.#spill.clear();
    for (const call of calls) {
      const at = call.id & this.#mask;
      if (this.#slots[at] === undefined) this.#slots[at] = call;
      else this.#spill.set(call.id, call);
    }
  }
}
