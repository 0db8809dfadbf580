/**
 * One call as the plugin host's worker runs it: its credit, its abort
 * signal, its input stream, and the context its command's `run` receives.
 *
 * @module
 */
import type { CallerInfo, Context, Flags, ServerView } from "../command.ts";
import type { Logger } from "../log.ts";

/** Asks the server for the next chunk of a call's input. */
export type PullInput = (id: number) => void;

/** A call running in the worker. */
export class HostCall {
  credit: number;
  #ctrl: AbortController | undefined;
  #reason: unknown;
  #aborted = false;
  #creditWaiter: (() => void) | undefined;
  inputWaiter: ((msg: { chunk?: Uint8Array; done?: boolean }) => void) | undefined;
  inputController: ReadableStreamDefaultController<Uint8Array> | undefined;

  constructor(credit: number) {
    this.credit = credit;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  /** The call's signal, made on first use (most calls never ask). */
  get signal(): AbortSignal {
    if (!this.#ctrl) {
      this.#ctrl = new AbortController();
      if (this.#aborted) this.#ctrl.abort(this.#reason);
    }
    return this.#ctrl.signal;
  }

  abort(reason: unknown) {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#ctrl?.abort(reason);
    this.#wakeCredit();
    const w = this.inputWaiter;
    this.inputWaiter = undefined;
    if (w) {
      try {
        this.inputController?.error(reason);
      } catch { /* already closed */ }
      w({ done: true });
    }
  }

  waitCredit(): Promise<void> {
    if (this.credit > 0 || this.#aborted) return Promise.resolve();
    return new Promise((r) => this.#creditWaiter = r);
  }

  addCredit(n: number) {
    this.credit += n;
    this.#wakeCredit();
  }

  #wakeCredit() {
    const w = this.#creditWaiter;
    this.#creditWaiter = undefined;
    w?.();
  }
}

/** What a command's `run` receives in the host; `signal`, `input` and `log` are made on first use. */
export class HostContext implements Context {
  readonly command: string;
  args: string[];
  flags: Flags;
  readonly state: Map<string, unknown>;
  readonly caller: CallerInfo;
  readonly server: ServerView;
  #id: number;
  #call: HostCall;
  #pull: PullInput;
  #makeLog: (id: number) => Logger;
  #input: ReadableStream<Uint8Array> | undefined;
  #log: Logger | undefined;

  constructor(
    id: number,
    call: HostCall,
    msg: { command: string; args: string[]; flags: Flags; caller: CallerInfo },
    env: { state: Map<string, unknown>; server: ServerView; pull: PullInput; log: (id: number) => Logger },
  ) {
    this.command = msg.command;
    this.args = msg.args;
    this.flags = msg.flags;
    this.caller = msg.caller;
    this.state = env.state;
    this.server = env.server;
    this.#id = id;
    this.#call = call;
    this.#pull = env.pull;
    this.#makeLog = env.log;
  }

  get signal(): AbortSignal {
    return this.#call.signal;
  }

  get input(): ReadableStream<Uint8Array> {
    return this.#input ??= inputStream(this.#id, this.#call, this.#pull);
  }

  get log(): Logger {
    return this.#log ??= this.#makeLog(this.#id);
  }
}

function inputStream(id: number, call: HostCall, pull: PullInput): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start: (c) => {
      call.inputController = c;
    },
    pull: (c) =>
      new Promise<void>((resolve) => {
        if (call.aborted) {
          c.error(call.reason);
          return resolve();
        }
        call.inputWaiter = (msg) => {
          if (!call.aborted) {
            if (msg.done) c.close();
            else if (msg.chunk) c.enqueue(msg.chunk);
          }
          resolve();
        };
        pull(id);
      }),
  }, { highWaterMark: 0 });
}
