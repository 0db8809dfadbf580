/**
 * How the dispatcher hands a call to where it runs. An entry of the registry
 * without a runner runs inline (built-ins, library commands: the fast path);
 * plugin files get a runner: a sandbox worker, or inline with a reload signal.
 *
 * @module
 */
import type { Chunk, Context } from "../command.ts";

/** Runs the calls of one loaded plugin version. */
export interface Runner {
  /** Where calls run: `"sandbox"` (a worker) or `"inline"` (the server's isolate). */
  readonly kind: "sandbox" | "inline";
  /**
   * Runs one call of `command`: yields its chunks, returns its result, throws
   * its error. Once `ctx.signal` aborts it ends promptly (the dispatcher does
   * not wait for it).
   */
  run(command: string, ctx: Context): AsyncGenerator<Chunk, unknown, undefined>;
  /**
   * Aborted when a reload replaced this version; calls of `persistent`
   * commands are then restarted on the new version.
   */
  readonly retired: AbortSignal;
}
