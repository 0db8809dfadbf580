/**
 * The context a command's `run` receives on the inline path, making its
 * signal, logger and input on first use.
 *
 * @module
 */
import type { ParsedArgs } from "./args.ts";
import type { CallerInfo, Context, Flags, ServerView } from "./command.ts";
import type { CallEnv, DispatcherOptions } from "./dispatcher.ts";
import { childLogger, type Logger } from "./log.ts";

/** A fresh, empty input stream: what a call reads when its caller sends none. */
export const EMPTY_INPUT = () => new ReadableStream<Uint8Array>({ start: (c) => c.close() });

/**
 * What a command's `run` receives. `signal`, `log` and `input` are made on
 * first use: most calls never touch them.
 */
export class CallContext implements Context {
  readonly command: string;
  args: string[];
  flags: Flags;
  readonly state: Map<string, unknown>;
  readonly caller: CallerInfo;
  readonly server: ServerView;
  #env: CallEnv;
  #logger: Logger;
  #ctrl: AbortController | undefined;
  /** Why the call was stopped (or ended), once it was; made into the signal's reason. */
  #reason: unknown;
  #stopped = false;
  #log: Logger | undefined;
  #input: ReadableStream<Uint8Array> | undefined;

  constructor(
    command: string,
    parsed: ParsedArgs,
    state: Map<string, unknown>,
    env: CallEnv,
    opts: DispatcherOptions,
  ) {
    this.command = command;
    this.args = parsed.args;
    this.flags = parsed.flags;
    this.state = state;
    this.caller = env.caller;
    this.server = opts.server;
    this.#env = env;
    this.#logger = opts.logger;
  }

  /** Aborted on cancel, disconnect, deadline and shutdown, and once the call has ended. */
  get signal(): AbortSignal {
    if (!this.#ctrl) {
      this.#ctrl = new AbortController();
      if (this.#stopped) this.#ctrl.abort(this.#reason);
    }
    return this.#ctrl.signal;
  }

  /** What the caller sends as input (empty when it sends none). */
  get input(): ReadableStream<Uint8Array> {
    if (!this.#input) {
      const input = this.#env.input;
      this.#input = input === undefined ? EMPTY_INPUT() : typeof input === "function" ? input() : input;
    }
    return this.#input;
  }

  /** Logs with the call's command and connection attached. */
  get log(): Logger {
    return this.#log ??= childLogger(this.#logger, { command: this.command, conn: this.caller.connection });
  }

  /** Stops the call with `reason` (first reason wins); aborts the signal if it was made. */
  static end(ctx: CallContext, reason: unknown): void {
    if (ctx.#stopped) return;
    ctx.#stopped = true;
    ctx.#reason = reason;
    ctx.#ctrl?.abort(reason);
  }

  /** Whether the call was stopped, and why. */
  static stopped(ctx: CallContext): { reason: unknown } | undefined {
    return ctx.#stopped ? { reason: ctx.#reason } : undefined;
  }
}
