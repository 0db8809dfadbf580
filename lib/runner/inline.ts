/**
 * Runs a command in the server's own isolate (built-ins, library commands).
 *
 * @module
 */
import type { Chunk, Command, Context } from "../command.ts";
import type { Runner } from "./runner.ts";

/** Runs `cmd`, yielding its chunks and returning its result. */
export async function* runInline(cmd: Command, ctx: Context): AsyncGenerator<Chunk, unknown> {
  const out = cmd.run(ctx);
  if (isAsyncIterable(out)) {
    const it = out[Symbol.asyncIterator]();
    let finished = false;
    try {
      while (true) {
        const step = await it.next();
        if (step.done) {
          finished = true;
          return step.value;
        }
        yield step.value;
      }
    } finally {
      // Stopped early (cancel, disconnect, deadline): let the command's own
      // finally blocks run, as a for-await loop would.
      if (!finished) await it.return?.();
    }
  }
  return await out;
}

function isAsyncIterable(v: unknown): v is AsyncIterable<Chunk> {
  return v !== null && typeof v === "object" &&
    typeof (v as AsyncIterable<Chunk>)[Symbol.asyncIterator] === "function";
}

/**
 * A plugin version the operator chose to run inline (`"sandbox": false` in
 * its grants): the server's isolate and permissions, no deadline kill, but
 * the same reload semantics as a sandbox (a `retired` signal, so persistent
 * streams restart on the new version).
 */
export class InlinePlugin implements Runner {
  readonly kind = "inline" as const;
  #commands: Map<string, Command>;
  #retired = new AbortController();
  #active = 0;

  constructor(commands: readonly Command[]) {
    this.#commands = new Map(commands.map((c) => [c.name, c]));
  }

  /** Aborted once a reload replaced this version. */
  get retired(): AbortSignal {
    return this.#retired.signal;
  }

  /** Calls in flight. */
  get calls(): number {
    return this.#active;
  }

  /** Marks this version as replaced. */
  retire(): void {
    this.#retired.abort();
  }

  async *run(command: string, ctx: Context): AsyncGenerator<Chunk, unknown, undefined> {
    const cmd = this.#commands.get(command);
    if (!cmd) throw new TypeError(`Unknown command "${command}"`);
    this.#active++;
    try {
      return yield* runInline(cmd, ctx);
    } finally {
      this.#active--;
    }
  }
}
