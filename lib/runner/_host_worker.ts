/**
 * The plugin's side of a host process: runs in a Worker that holds only the
 * plugin's grants, speaks the framed protocol of `host_protocol.ts` with the
 * server over the process's stdin and stdout, and runs the plugin's calls.
 *
 * The host's main module starts this worker from a small generated module
 * that imports this file first and the plugin second, so this module's top
 * level runs before any of the plugin's code: it takes the pipes and routes
 * `console` to the server's log before the plugin can touch them. What the
 * plugin does to them afterwards only harms its own host.
 *
 * @module
 */
import { accessAllows, type AccessLevel, type Chunk, type Command } from "../command.ts";
import { validateCommand } from "../validate_command.ts";
import type { LogFields, Logger, LogLevel } from "../log.ts";
import { HostCall, HostContext } from "./_host_call.ts";
import { openPipes } from "./_host_pipes.ts";
import { encode } from "../codec.ts";
import { FrameChannel } from "./frame_channel.ts";
import {
  type CommandMeta,
  type StateOp,
  type ToHost,
  toWireError,
  type ViewSnapshot,
  type WireError,
} from "./host_protocol.ts";

/** Largest message the server sends (an input chunk is at most a frame of the client's). */
const MAX_FROM_SERVER = 64 * 1024 * 1024;

const realClose = (globalThis as unknown as { close(): void }).close.bind(globalThis);

const pipes = openPipes();

const channel = new FrameChannel(pipes.write, MAX_FROM_SERVER);

type Out =
  | { t: "loaded"; commands: CommandMeta[] }
  | { t: "load-error" | "crash"; error: WireError }
  | { t: "chunk"; id: number; chunk: Chunk }
  | { t: "end"; id: number; ok: boolean; result?: unknown; error?: WireError }
  | { t: "pull"; id: number }
  | { t: "state"; op: StateOp }
  | { t: "log"; id?: number; level: LogLevel; msg: string; fields?: LogFields }
  | { t: "pong"; n: number; rss: number };

function send(msg: Out): void {
  channel.send(msg);
}

/** State values cross to the server as msgpack; keys are strings. */
class SyncedState extends Map<string, unknown> {
  #max = 10_000;
  #maxBytes = 16 * 1024 * 1024;
  #sizes = new Map<string, number>();
  #bytes = 0;

  configure(max: number, maxBytes: number, entries: [string, unknown][]) {
    this.#max = max;
    this.#maxBytes = maxBytes;
    for (const [k, v] of entries) this.#put(k, v, k.length + encode(v).length);
  }

  override set(key: string, value: unknown): this {
    if (typeof key !== "string") throw new TypeError("State keys must be strings");
    if (!this.has(key) && this.size >= this.#max) {
      throw new RangeError(`Plugin state is full (${this.#max} keys)`);
    }
    const bad = notData(value, 0);
    if (bad) throw new TypeError(`State value for "${key}" could not be stored: ${bad} is not data`);
    const size = key.length + encode(value).length;
    if (this.#bytes - (this.#sizes.get(key) ?? 0) + size > this.#maxBytes) {
      throw new RangeError(`Plugin state is full (${this.#maxBytes >> 20} MiB)`);
    }
    send({ t: "state", op: { op: "set", key, value } });
    return this.#put(key, value, size);
  }

  override delete(key: string): boolean {
    const had = this.#drop(key);
    if (had) send({ t: "state", op: { op: "delete", key } });
    return had;
  }

  override clear(): void {
    this.#clear();
    send({ t: "state", op: { op: "clear" } });
  }

  applyRemote(op: StateOp) {
    if (op.op === "set") this.#put(op.key, op.value, op.key.length + encode(op.value).length);
    else if (op.op === "delete") this.#drop(op.key);
    else this.#clear();
  }

  #put(key: string, value: unknown, size: number): this {
    this.#bytes += size - (this.#sizes.get(key) ?? 0);
    this.#sizes.set(key, size);
    return super.set(key, value);
  }

  #drop(key: string): boolean {
    this.#bytes -= this.#sizes.get(key) ?? 0;
    this.#sizes.delete(key);
    return super.delete(key);
  }

  #clear() {
    this.#sizes.clear();
    this.#bytes = 0;
    super.clear();
  }
}

/** What in `v` cannot travel to the server as data (a function, a symbol, a class instance), if anything. */
function notData(v: unknown, depth: number): string | undefined {
  if (depth > 64) return "a value nested this deep";
  if (
    v === null || v === undefined || typeof v === "string" || typeof v === "number" || typeof v === "boolean"
  ) {
    return undefined;
  }
  if (typeof v !== "object") return `a ${typeof v}`;
  if (v instanceof Uint8Array || v instanceof Date) return undefined;
  if (Array.isArray(v)) {
    for (const x of v) {
      const bad = notData(x, depth + 1);
      if (bad) return bad;
    }
    return undefined;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) {
    return `a ${proto?.constructor?.name ?? "class"} instance`;
  }
  for (const x of Object.values(v)) {
    const bad = notData(x, depth + 1);
    if (bad) return bad;
  }
  return undefined;
}

const calls = new Map<number, HostCall>();
const state = new SyncedState();
let commands = new Map<string, Command>();
let view: ViewSnapshot = { name: "sockd", version: "", commands: [] };
let crashed = false;

async function crash(err: unknown): Promise<void> {
  if (crashed) return;
  crashed = true;
  send({ t: "crash", error: toWireError(err) });
  await channel.flushed();
  realClose();
}

function logger(id: number | undefined): Logger {
  const emit = (level: LogLevel) => (msg: string, fields?: LogFields) => {
    // Only what is there: msgpack has no undefined.
    const line: Out = { t: "log", level, msg: String(msg) };
    if (id !== undefined) line.id = id;
    try {
      if (fields !== undefined) line.fields = fields;
      send(line);
    } catch {
      line.fields = { unencodable: String(fields) };
      send(line);
    }
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

// Before the plugin's code runs: console goes to the server's log (stdout is
// the channel), and ending the worker is reported as what it is.
{
  const log = logger(undefined);
  const line = (args: unknown[]) =>
    args.map((a) => typeof a === "string" ? a : Deno.inspect(a, { depth: 4, colors: false })).join(" ");
  const route = (level: LogLevel) => (...args: unknown[]) => log[level](line(args), { stream: "console" });
  const c = globalThis.console as unknown as Record<string, unknown>;
  for (
    const [name, level] of [["log", "info"], ["info", "info"], ["debug", "debug"], ["warn", "warn"], [
      "error",
      "error",
    ], ["trace", "debug"]] as const
  ) c[name] = route(level);
  // Ways around the host's limits that need no permission: threads that run on between calls, and
  // storage shared by every host (the Web Cache API and localStorage live in Deno's directory).
  for (const name of ["Worker", "caches", "localStorage", "sessionStorage"]) {
    try {
      delete (globalThis as Record<string, unknown>)[name];
    } catch { /* not there */ }
  }
  const ended = (what: string) => () => void crash(new Error(`The plugin ended its host (${what})`));
  Object.defineProperty(globalThis, "close", { value: ended("close()"), configurable: true, writable: true });
  Object.defineProperty(Deno, "exit", { value: ended("Deno.exit()"), configurable: true, writable: true });
  globalThis.addEventListener("error", (e) => {
    e.preventDefault();
    void crash((e as ErrorEvent).error ?? new Error((e as ErrorEvent).message));
  });
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    void crash((e as PromiseRejectionEvent).reason);
  });
}

/**
 * Runs a plugin module: validates its default export, tells the server its
 * commands, then serves calls until the server closes the pipe.
 */
export function start(mod: Record<string, unknown>): void {
  let metas: CommandMeta[];
  try {
    commands = loadCommands(mod);
    metas = [...commands.values()].map(meta);
  } catch (err) {
    send({ t: "load-error", error: toWireError(err) });
    void channel.flushed().then(realClose);
    return;
  }
  send({ t: "loaded", commands: metas });
  (globalThis as unknown as { postMessage(m: unknown): void }).postMessage("loaded");
  readLoop();
}

function readLoop(): void {
  pipes.read(
    (bytes) => {
      let msgs: unknown[];
      try {
        msgs = channel.feed(bytes);
      } catch (err) {
        void crash(new Error(`The server's channel broke: ${(err as Error).message}`));
        return;
      }
      for (const msg of msgs) onMessage(msg as ToHost);
    },
    (err) => {
      if (err) void crash(new Error(`The server's channel broke: ${err.message}`));
      // The server closed the pipe: it is done with this host.
      else realClose();
    },
  );
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
  if (c.input !== undefined) m.input = c.input;
  return m;
}

function onMessage(msg: ToHost) {
  switch (msg?.t) {
    case "init":
      state.configure(msg.maxStateEntries, msg.maxStateBytes, msg.state);
      view = msg.view;
      return;
    case "call":
      void runCall(msg);
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
      send({ t: "pong", n: msg.n, rss: Deno.memoryUsage().rss });
      return;
  }
}

function fromWire(w: WireError): Error {
  const err = new Error(w.message);
  err.name = w.name;
  return Object.assign(err, { status: w.status });
}

const serverView = {
  get name() {
    return view.name;
  },
  get version() {
    return view.version;
  },
  commands: (access?: AccessLevel) =>
    view.commands.filter((c) => access === undefined || accessAllows(access, c.access)),
};

const env = { state, server: serverView, pull: (id: number) => send({ t: "pull", id }), log: logger };

function isAsyncIterable(v: unknown): v is AsyncIterable<Chunk> {
  return v !== null && typeof v === "object" &&
    typeof (v as AsyncIterable<Chunk>)[Symbol.asyncIterator] === "function";
}

function sendOrExplain(msg: Out, what: string) {
  try {
    send(msg);
  } catch (err) {
    throw new TypeError(`The command ${what} a value that cannot be sent: ${(err as Error).message}`);
  }
}

async function runCall(msg: Extract<ToHost, { t: "call" }>) {
  const { id } = msg;
  const call = new HostCall(msg.credit);
  calls.set(id, call);
  try {
    const cmd = commands.get(msg.command);
    if (!cmd) throw Object.assign(new Error(`Unknown command "${msg.command}"`), { status: 101 });
    const out = cmd.run(new HostContext(id, call, msg, env));
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
          sendOrExplain({ t: "chunk", id, chunk: step.value }, "yielded");
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
    sendOrExplain({ t: "end", id, ok: true, result }, "returned");
  } catch (err) {
    send({ t: "end", id, ok: false, error: toWireError(call.aborted ? call.reason : err) });
  } finally {
    calls.delete(id);
  }
}
