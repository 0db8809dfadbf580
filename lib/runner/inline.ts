/**
 * Runs a command in the server's own isolate (built-ins, library commands).
 *
 * @module
 */
import type { Chunk, Command, Context } from "../command.ts";

/** Runs `cmd`, yielding its chunks and returning its result. */
export async function* runInline(cmd: Command, ctx: Context): AsyncGenerator<Chunk, unknown> {
  const out = cmd.run(ctx);
  if (isAsyncIterable(out)) {
    const it = out[Symbol.asyncIterator]();
    while (true) {
      const step = await it.next();
      if (step.done) return step.value;
      yield step.value;
    }
  }
  return await out;
}

function isAsyncIterable(v: unknown): v is AsyncIterable<Chunk> {
  return v !== null && typeof v === "object" &&
    typeof (v as AsyncIterable<Chunk>)[Symbol.asyncIterator] === "function";
}
