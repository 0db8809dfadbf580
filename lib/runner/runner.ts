/**
 * How the dispatcher hands a call to where it runs. An entry of the registry
 * without a runner runs inline (built-ins, library commands: the fast path);
 * plugin files get a runner: a host process, or inline with a reload signal.
 *
 * @module
 */
import type { Chunk, Context } from "../command.ts";

/**
 * One call on a runner that streams: its chunks, then its result as the
 * iterator's return value (or its error, thrown). `return()` stops it early:
 * the runner lets the command unwind without waiting for it.
 */
export interface RunnerCall extends AsyncIterableIterator<Chunk, unknown, undefined> {
  return(value?: unknown): Promise<IteratorResult<Chunk, unknown>>;
  /**
   * Stops the call now (cancel, deadline, disconnect, shutdown) with
   * `reason`, even while its consumer is busy. The dispatcher calls it when
   * the call's signal aborts; a pull in progress is answered by the
   * dispatcher, not by the runner.
   */
  abort?(reason: unknown): void;
}

/** Runs the calls of one loaded plugin version. */
export interface Runner {
  /** Where calls run: `"process"` (the plugin's host process) or `"inline"` (the server's isolate). */
  readonly kind: "process" | "inline";
  /**
   * Runs one call of `command`, with what a command's `run` returns: a
   * value, a promise of one, or an async iterable of chunks (a
   * {@linkcode RunnerCall} for a host process). Once `ctx.signal` aborts it ends
   * promptly (the dispatcher does not wait for it).
   */
  run(command: string, ctx: Context): unknown;
  /**
   * Aborted when a reload replaced this version; calls of `persistent`
   * commands are then restarted on the new version.
   */
  readonly retired: AbortSignal;
}
