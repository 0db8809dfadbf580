/**
 * Runs a command in the server's own isolate (built-ins, library commands).
 *
 * @module
 */
import type { Chunk, Command, Context } from "../command.ts";
import type { Runner } from "./runner.ts";

function isAsyncIterable(v: unknown): v is AsyncIterable<Chunk> {
  return v !== null && typeof v === "object" &&
    typeof (v as AsyncIterable<Chunk>)[Symbol.asyncIterator] === "function";
}

/**
 * A plugin version the operator chose to run inline (`"sandbox": "inline"` in
 * its grants): the server's isolate and permissions, no deadline kill, but
 * the same reload semantics as a host process (a `retired` signal, so persistent
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

  /**
   * Runs `command` as the built-ins run: a plain value comes back at once.
   * The call counts in {@linkcode InlinePlugin.calls} until its promise
   * settles or its stream ends (or is stopped).
   */
  run(command: string, ctx: Context): unknown {
    const cmd = this.#commands.get(command);
    if (!cmd) throw new TypeError(`Unknown command "${command}"`);
    this.#active++;
    let out: unknown;
    try {
      out = cmd.run(ctx);
    } catch (err) {
      this.#active--;
      throw err;
    }
    if (isAsyncIterable(out)) return new CountedStream(out[Symbol.asyncIterator](), () => this.#active--);
    if (out !== null && typeof out === "object" && typeof (out as PromiseLike<unknown>).then === "function") {
      const done = () => {
        this.#active--;
      };
      (out as PromiseLike<unknown>).then(done, done);
      return out;
    }
    this.#active--;
    return out;
  }
}

/** A command's stream that tells when it has ended, however it ends. */
class CountedStream implements AsyncIterableIterator<Chunk, unknown, undefined> {
  #it: AsyncIterator<Chunk, unknown, undefined>;
  #onEnd: (() => void) | undefined;

  constructor(it: AsyncIterator<Chunk, unknown, undefined>, onEnd: () => void) {
    this.#it = it;
    this.#onEnd = onEnd;
  }

  async next(): Promise<IteratorResult<Chunk, unknown>> {
    try {
      const step = await this.#it.next();
      if (step.done) this.#ended();
      return step;
    } catch (err) {
      this.#ended();
      throw err;
    }
  }

  async return(value?: unknown): Promise<IteratorResult<Chunk, unknown>> {
    try {
      return (await this.#it.return?.(value)) ?? { done: true, value };
    } finally {
      this.#ended();
    }
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #ended() {
    const onEnd = this.#onEnd;
    this.#onEnd = undefined;
    onEnd?.();
  }
}
