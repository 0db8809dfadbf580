/**
 * The sandbox worker's side: validates the plugin's default export, runs its
 * calls, and speaks the message protocol of `_protocol.ts` with the server.
 *
 * The server starts each worker from a small generated module that imports
 * this file and the plugin file statically (a worker without the `read`
 * permission may not import a file dynamically), then calls
 * {@linkcode start} with the plugin's module.
 *
 * @module
 */
import {
  accessAllows,
  type AccessLevel,
  type CallerInfo,
  type Chunk,
  type Command,
  type Context,
  type Flags,
  type ServerView,
  validateCommand,
} from "../command.ts";
import type { LogFields, Logger, LogLevel } from "../log.ts";
import {
  type CommandMeta,
  type HostMessage,
  type StateOp,
  toWireError,
  type ViewSnapshot,
  type WireError,
  type WorkerMessage,
} from "./_protocol.ts";

interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: string, listener: (event: Event) => void): void;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;

function post(message: WorkerMessage): void {
  scope.postMessage(message);
}

/** State keys and values cross to the server by structured clone; keys are strings. */
class SyncedState extends Map<string, unknown> {
  #max = 10_000;

  configure(max: number, entries: [string, unknown][]) {
    this.#max = max;
    for (const [k, v] of entries) super.set(k, v);
  }

  override set(key: string, value: unknown): this {
    if (typeof key !== "string") throw new TypeError("State keys must be strings");
    if (!this.has(key) && this.size >= this.#max) {
      throw new RangeError(`Plugin state is full (${this.#max} keys)`);
    }
    // Throws DataCloneError (and changes nothing) when the value cannot be cloned.
    post({ type: "state", op: { op: "set", key, value } });
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    const had = super.delete(key);
    if (had) post({ type: "state", op: { op: "delete", key } });
    return had;
  }

  override clear(): void {
    super.clear();
    post({ type: "state", op: { op: "clear" } });
  }

  applyRemote(op: StateOp) {
    if (op.op === "set") super.set(op.key, op.value);
    else if (op.op === "delete") super.delete(op.key);
    else super.clear();
  }
}

/** One call running in this worker: its credit, and its abort controller once someone asks for it. */
class WorkerCall {
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

/** What a command's `run` receives in the worker; `signal`, `input` and `log` are made on first use. */
class WorkerContext implements Context {
  readonly command: string;
  args: string[];
  flags: Flags;
  readonly state: Map<string, unknown> = state;
  readonly caller: CallerInfo;
  readonly server: ServerView = serverView;
  #id: number;
  #call: WorkerCall;
  #input: ReadableStream<Uint8Array> | undefined;
  #log: Logger | undefined;

  constructor(
    id: number,
    call: WorkerCall,
    msg: { command: string; args: string[]; flags: Flags; caller: CallerInfo },
  ) {
    this.command = msg.command;
    this.args = msg.args;
    this.flags = msg.flags;
    this.caller = msg.caller;
    this.#id = id;
    this.#call = call;
  }

  get signal(): AbortSignal {
    return this.#call.signal;
  }

  get input(): ReadableStream<Uint8Array> {
    return this.#input ??= inputStream(this.#id, this.#call);
  }

  get log(): Logger {
    return this.#log ??= logger(this.#id);
  }
}

const calls = new Map<number, WorkerCall>();
const state = new SyncedState();
let commands = new Map<string, Command>();
let view: ViewSnapshot = { name: "sockd", version: "", commands: [] };
let logBudget = { perSecond: 200, left: 200, windowStart: Date.now(), dropped: 0 };
let crashed = false;

function crash(err: unknown, close: () => void) {
  if (crashed) return;
  crashed = true;
  try {
    post({ type: "crash", error: toWireError(err) });
  } finally {
    close();
  }
}

/**
 * Runs a plugin module in this worker: validates its default export, tells
 * the server its commands, then serves calls until the worker is terminated.
 */
export function start(mod: Record<string, unknown>): void {
  const realClose = scope.close.bind(scope);
  // A plugin's uncaught error or unhandled rejection crashes its worker, as it
  // would crash a program: the server restarts the worker. Reported here
  // rather than printed by the runtime.
  scope.addEventListener("error", (e) => {
    e.preventDefault();
    const ev = e as ErrorEvent;
    crash(ev.error ?? new Error(ev.message), realClose);
  });
  scope.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    crash((e as PromiseRejectionEvent).reason, realClose);
  });
  const closed = (what: string) => () => crash(new Error(`The plugin ended its worker (${what})`), realClose);
  Object.defineProperty(globalThis, "close", {
    value: closed("close()"),
    configurable: true,
    writable: true,
  });
  Object.defineProperty(Deno, "exit", { value: closed("Deno.exit()"), configurable: true, writable: true });

  let metas: CommandMeta[];
  try {
    commands = loadCommands(mod);
    metas = [...commands.values()].map(meta);
    structuredClone(metas);
  } catch (err) {
    post({ type: "load-error", error: toWireError(err) });
    return;
  }
  scope.addEventListener("message", (e) => onMessage((e as MessageEvent<HostMessage>).data));
  post({ type: "loaded", commands: metas });
}

function loadCommands(mod: Record<string, unknown>): Map<string, Command> {
  const exported = mod.default;
  if (exported === undefined) {
    throw new TypeError("No default export: export a command or an array of commands");
  }
  const list = Array.isArray(exported) ? exported : [exported];
  if (list.length === 0) throw new TypeError("The default export is an empty array");
  const out = new Map<string, Command>();
  list.forEach((c, i) => {
    let cmd: Command;
    try {
      cmd = validateCommand(c);
    } catch (err) {
      throw new TypeError(
        Array.isArray(exported) ? `[${i}]: ${(err as Error).message}` : (err as Error).message,
      );
    }
    if (!out.has(cmd.name)) out.set(cmd.name, cmd);
  });
  return out;
}

function meta(c: Command): CommandMeta {
  const m: CommandMeta = { name: c.name, summary: c.summary };
  if (c.description !== undefined) m.description = c.description;
  if (c.args !== undefined) m.args = c.args;
  if (c.flags !== undefined) m.flags = c.flags;
  if (c.access !== undefined) m.access = c.access;
  if (c.timeout !== undefined) m.timeout = c.timeout;
  if (c.persistent !== undefined) m.persistent = c.persistent;
  return m;
}

function onMessage(msg: HostMessage) {
  switch (msg?.type) {
    case "init":
      state.configure(msg.maxStateEntries, msg.state);
      view = msg.view;
      logBudget = {
        perSecond: msg.logsPerSecond,
        left: msg.logsPerSecond,
        windowStart: Date.now(),
        dropped: 0,
      };
      return;
    case "call":
      runCall(msg);
      return;
    case "ack":
      calls.get(msg.id)?.addCredit(msg.n);
      return;
    case "input": {
      const call = calls.get(msg.id);
      const w = call?.inputWaiter;
      if (call && w) {
        call.inputWaiter = undefined;
        w(msg);
      }
      return;
    }
    case "cancel":
      calls.get(msg.id)?.abort(fromWire(msg.reason));
      return;
    case "state":
      state.applyRemote(msg.op);
      return;
    case "view":
      view = msg.view;
      return;
    case "ping":
      post({ type: "pong", n: msg.n });
      return;
  }
}

function fromWire(w: WireError): Error {
  const err = new Error(w.message);
  err.name = w.name;
  return Object.assign(err, { status: w.status });
}

const serverView: ServerView = {
  get name() {
    return view.name;
  },
  get version() {
    return view.version;
  },
  commands: (access?: AccessLevel) =>
    view.commands.filter((c) => access === undefined || accessAllows(access, c.access)),
};

function inputStream(id: number, call: WorkerCall): ReadableStream<Uint8Array> {
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
        post({ type: "pull", id });
      }),
  }, { highWaterMark: 0 });
}

function logger(id: number | undefined): Logger {
  const emit = (level: LogLevel) => (msg: string, fields?: LogFields) => {
    const now = Date.now();
    if (now - logBudget.windowStart >= 1000) {
      if (logBudget.dropped > 0) {
        post({
          type: "log",
          level: "warn",
          msg: "Plugin log lines dropped",
          fields: { dropped: logBudget.dropped },
        });
      }
      logBudget.windowStart = now;
      logBudget.left = logBudget.perSecond;
      logBudget.dropped = 0;
    }
    if (logBudget.left <= 0) {
      logBudget.dropped++;
      return;
    }
    logBudget.left--;
    try {
      post({ type: "log", id, level, msg: String(msg), fields });
    } catch {
      post({ type: "log", id, level, msg: String(msg), fields: { fields: safeString(fields) } });
    }
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

function safeString(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

function isAsyncIterable(v: unknown): v is AsyncIterable<Chunk> {
  return v !== null && typeof v === "object" &&
    typeof (v as AsyncIterable<Chunk>)[Symbol.asyncIterator] === "function";
}

async function runCall(
  msg: {
    id: number;
    command: string;
    args: string[];
    flags: Flags;
    caller: CallerInfo;
    credit: number;
  },
) {
  const { id } = msg;
  const call = new WorkerCall(msg.credit);
  calls.set(id, call);
  try {
    const cmd = commands.get(msg.command);
    if (!cmd) throw Object.assign(new Error(`Unknown command "${msg.command}"`), { status: 101 });
    const ctx = new WorkerContext(id, call, msg);
    const out = cmd.run(ctx);
    let result: unknown;
    if (isAsyncIterable(out)) {
      const it = out[Symbol.asyncIterator]();
      let finished = false;
      try {
        while (!call.aborted) {
          const step = await it.next();
          if (step.done) {
            result = step.value;
            finished = true;
            break;
          }
          if (step.value === undefined) continue;
          await call.waitCredit();
          if (call.aborted) break;
          call.credit--;
          try {
            post({ type: "chunk", id, chunk: step.value });
          } catch (err) {
            throw new TypeError(`The command yielded a value that cannot be sent: ${(err as Error).message}`);
          }
        }
      } finally {
        if (!finished) await it.return?.(undefined);
      }
    } else {
      result =
        out !== null && typeof out === "object" && typeof (out as PromiseLike<unknown>).then === "function"
          ? await out
          : out;
    }
    if (call.aborted) throw call.reason;
    try {
      post({ type: "end", id, ok: true, result });
    } catch (err) {
      throw new TypeError(`The command returned a value that cannot be sent: ${(err as Error).message}`);
    }
  } catch (err) {
    post({ type: "end", id, ok: false, error: toWireError(call.aborted ? call.reason : err) });
  } finally {
    calls.delete(id);
  }
}
