/**
 * The plugin-state gate of a successor process. While the process it
 * replaces still finishes calls, those calls may change plugin state; had
 * both processes run plugin calls at once, each could overwrite the other's
 * newer value. So the successor runs plugin calls only once the old process
 * says its state is final (no call of its own runs any more; every change
 * before that reached the successor in order). Built-ins and library
 * commands are not held; a plugin call waits at most until the gate opens
 * (or its own deadline, or its cancellation).
 *
 * @module
 */
import type { Chunk, Context } from "./command.ts";
import type { Runner } from "./runner/runner.ts";

/** A gate that opens once; `open` is true from then on. */
export class StateGate {
  open = false;
  readonly opened: Promise<void>;

  constructor(until: Promise<unknown>) {
    this.opened = until.then(() => {
      this.open = true;
    }, () => {
      this.open = true;
    });
  }

  /** `runner`, whose calls wait for the gate while it is shut. */
  wrap(runner: Runner): Runner {
    return {
      kind: runner.kind,
      get retired() {
        return runner.retired;
      },
      run: (command: string, ctx: Context): unknown =>
        this.open ? runner.run(command, ctx) : this.#later(runner, command, ctx),
    };
  }

  /** A call that waits for the gate: its chunks, then its result as the return value. */
  async *#later(runner: Runner, command: string, ctx: Context): AsyncGenerator<Chunk, unknown, undefined> {
    await this.#wait(ctx.signal);
    const out = runner.run(command, ctx);
    if (out !== null && typeof out === "object" && Symbol.asyncIterator in out) {
      return yield* out as AsyncIterable<Chunk>;
    }
    return await out;
  }

  /** Until the gate opens or `signal` aborts (then throws its reason). */
  #wait(signal: AbortSignal): Promise<void> {
    if (this.open) return Promise.resolve();
    signal.throwIfAborted();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      this.opened.then(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }
}
