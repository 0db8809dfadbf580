/**
 * The messages between the server and a plugin host process: msgpack
 * values in length-prefixed frames over the host's stdin (server → host)
 * and stdout (host → server).
 *
 * One `call` produces `chunk`s (at most `credit` ahead of the server's
 * `ack`s) and exactly one `end`. `pull`/`input` move the caller's input one
 * chunk at a time. The server trusts nothing a host says:
 * {@linkcode parseHostMessage} checks every message's shape, types and
 * sizes, and a message that fails ends the host.
 *
 * @module
 */
import { ACCESS_LEVELS, type CallerInfo, type Chunk, type CommandInfo, type Flags } from "../command.ts";
import { LOG_LEVELS, type LogFields, type LogLevel } from "../log.ts";

/** An error as it crosses the process boundary. */
export interface WireError {
  name: string;
  message: string;
  /** A sockd status the plugin chose (a thrown `SockdError` or `{status}`). */
  status?: number;
  details?: Record<string, unknown>;
}

/** A change to a plugin's state map. */
export type StateOp =
  | { op: "set"; key: string; value: unknown }
  | { op: "delete"; key: string }
  | { op: "clear" };

/** What a plugin sees of its server. */
export interface ViewSnapshot {
  name: string;
  version: string;
  commands: CommandInfo[];
}

/** A command's definition without its code, as the host reports it. */
export interface CommandMeta {
  name: string;
  summary: string;
  description?: string;
  args?: CommandInfo["args"];
  flags?: CommandInfo["flags"];
  access?: CommandInfo["access"];
  timeout?: number;
  persistent?: boolean;
  input?: boolean;
}

/** Server → host. */
export type ToHost =
  | {
    t: "init";
    state: [string, unknown][];
    view: ViewSnapshot;
    maxStateEntries: number;
    maxStateBytes: number;
  }
  | {
    t: "call";
    id: number;
    command: string;
    args: string[];
    flags: Flags;
    caller: CallerInfo;
    credit: number;
  }
  | { t: "ack"; id: number; n: number }
  | { t: "input"; id: number; chunk?: Uint8Array; done?: boolean }
  | { t: "cancel"; id: number; reason: WireError }
  | { t: "state"; op: StateOp }
  | { t: "view"; view: ViewSnapshot }
  | { t: "ping"; n: number };

/** Host → server. */
export type FromHost =
  | { t: "loaded"; commands: CommandMeta[] }
  | { t: "load-error"; error: WireError }
  | { t: "chunk"; id: number; chunk: Chunk }
  | { t: "end"; id: number; ok: true; result?: unknown }
  | { t: "end"; id: number; ok: false; error: WireError }
  | { t: "pull"; id: number }
  | { t: "state"; op: StateOp }
  | { t: "log"; id?: number; level: LogLevel; msg: string; fields?: LogFields }
  | { t: "crash"; error: WireError }
  | { t: "pong"; n: number; rss?: number };

/** Bounds on what a host may say. */
export const HOST_BOUNDS = Object.freeze({
  /** Commands one plugin file may define. */
  commands: 256,
  /** Characters of a summary, an argument's or flag's description. */
  text: 1024,
  /** Characters of a command's description. */
  description: 16 * 1024,
  /** Arguments and flags of one command. */
  specs: 64,
  /** Characters of a log message or an error message. */
  message: 8 * 1024,
  /** Characters of a state key. */
  stateKey: 1024,
});

/** A message a host sent that breaks the protocol; the host is ended. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

const NAME_RE = /^[a-z0-9][a-z0-9._:-]{0,63}$/;
const FLAG_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;
const ARG_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function fail(what: string): never {
  throw new ProtocolError(what);
}

/** An optional value: msgpack has no `undefined`, so a nil stands for "absent" too. */
function opt(v: unknown): unknown {
  return v === null ? undefined : v;
}

/** A copy of `o` without its nil values (msgpack writes `undefined` as nil). */
function present(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function onlyKeys(o: Record<string, unknown>, keys: readonly string[], where: string) {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) fail(`${where}: unexpected key ${JSON.stringify(k)}`);
  }
}

function text(v: unknown, max: number, where: string, optional = false): string | undefined {
  if (v === undefined && optional) return undefined;
  if (typeof v !== "string") fail(`${where} must be a string`);
  if (v.length > max) fail(`${where} is longer than ${max} characters`);
  return v;
}

function id(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) {
    fail(`${where}: id must be a positive integer`);
  }
  return v;
}

/** Validates a command definition a host reported. */
export function parseCommandMeta(raw: unknown, where: string): CommandMeta {
  if (!isObject(raw)) fail(`${where} must be an object`);
  const v = present(raw);
  onlyKeys(
    v,
    ["name", "summary", "description", "args", "flags", "access", "timeout", "persistent", "input"],
    where,
  );
  const name = text(v.name, 64, `${where}.name`)!;
  if (!NAME_RE.test(name)) fail(`${where}.name ${JSON.stringify(name)} is not a command name`);
  const meta: CommandMeta = { name, summary: text(v.summary, HOST_BOUNDS.text, `${where}.summary`)! };
  const description = text(v.description, HOST_BOUNDS.description, `${where}.description`, true);
  if (description !== undefined) meta.description = description;
  if (v.access !== undefined) {
    if (!(ACCESS_LEVELS as readonly unknown[]).includes(v.access)) {
      fail(`${where}.access is not an access level`);
    }
    meta.access = v.access as CommandMeta["access"];
  }
  if (v.timeout !== undefined) {
    if (typeof v.timeout !== "number" || !(v.timeout >= 0) || !Number.isFinite(v.timeout)) {
      fail(`${where}.timeout must be a number of ms >= 0`);
    }
    meta.timeout = v.timeout;
  }
  if (v.persistent !== undefined) {
    if (typeof v.persistent !== "boolean") fail(`${where}.persistent must be a boolean`);
    meta.persistent = v.persistent;
  }
  if (v.input !== undefined) {
    if (typeof v.input !== "boolean") fail(`${where}.input must be a boolean`);
    meta.input = v.input;
  }
  if (v.args !== undefined) {
    if (!Array.isArray(v.args) || v.args.length > HOST_BOUNDS.specs) {
      fail(`${where}.args must be a short array`);
    }
    meta.args = v.args.map((rawArg, i) => {
      const w = `${where}.args[${i}]`;
      if (!isObject(rawArg)) fail(`${w} must be an object`);
      const a = present(rawArg);
      onlyKeys(a, ["name", "description", "optional", "variadic"], w);
      const argName = text(a.name, 64, `${w}.name`)!;
      if (!ARG_RE.test(argName)) fail(`${w}.name is not an argument name`);
      for (const k of ["optional", "variadic"] as const) {
        if (a[k] !== undefined && typeof a[k] !== "boolean") fail(`${w}.${k} must be a boolean`);
      }
      if (a.variadic && i !== (v.args as unknown[]).length - 1) {
        fail(`${w}: only the last argument may be variadic`);
      }
      const spec: NonNullable<CommandMeta["args"]>[number] = { name: argName };
      const d = text(a.description, HOST_BOUNDS.text, `${w}.description`, true);
      if (d !== undefined) spec.description = d;
      if (a.optional !== undefined) spec.optional = a.optional as boolean;
      if (a.variadic !== undefined) spec.variadic = a.variadic as boolean;
      return spec;
    });
  }
  if (v.flags !== undefined) {
    if (!isObject(v.flags)) fail(`${where}.flags must be an object`);
    const entries = Object.entries(v.flags);
    if (entries.length > HOST_BOUNDS.specs) fail(`${where}.flags has too many flags`);
    const flags: NonNullable<CommandMeta["flags"]> = {};
    for (const [flag, rawFlag] of entries) {
      const w = `${where}.flags.${flag}`;
      if (!FLAG_RE.test(flag)) fail(`${w}: not a flag name`);
      if (!isObject(rawFlag)) fail(`${w} must be an object`);
      const f = present(rawFlag);
      onlyKeys(f, ["type", "short", "description", "default"], w);
      if (f.type !== "boolean" && f.type !== "string" && f.type !== "number") {
        fail(`${w}.type is not a flag type`);
      }
      if (f.short !== undefined && (typeof f.short !== "string" || !/^[a-zA-Z]$/.test(f.short))) {
        fail(`${w}.short must be one letter`);
      }
      if (f.default !== undefined && typeof f.default !== f.type) fail(`${w}.default must be a ${f.type}`);
      const spec: NonNullable<CommandMeta["flags"]>[string] = { type: f.type };
      if (f.short !== undefined) spec.short = f.short as string;
      const d = text(f.description, HOST_BOUNDS.text, `${w}.description`, true);
      if (d !== undefined) spec.description = d;
      if (f.default !== undefined) spec.default = f.default as string | number | boolean;
      flags[flag] = spec;
    }
    meta.flags = flags;
  }
  return meta;
}

function wireError(raw: unknown, where: string): WireError {
  if (!isObject(raw)) fail(`${where} must be an error object`);
  const v = present(raw);
  const err: WireError = {
    name: text(v.name, 128, `${where}.name`)!,
    message: String(v.message ?? "").slice(0, HOST_BOUNDS.message),
  };
  if (v.status !== undefined) {
    if (typeof v.status !== "number" || !Number.isInteger(v.status)) {
      fail(`${where}.status must be an integer`);
    }
    err.status = v.status;
  }
  if (v.details !== undefined) {
    if (!isObject(v.details)) fail(`${where}.details must be an object`);
    err.details = v.details;
  }
  return err;
}

function stateOp(v: unknown): StateOp {
  if (!isObject(v)) fail("state.op must be an object");
  if (v.op === "clear") return { op: "clear" };
  const key = text(v.key, HOST_BOUNDS.stateKey, "state.op.key")!;
  if (v.op === "delete") return { op: "delete", key };
  if (v.op === "set") return { op: "set", key, value: v.value };
  return fail("state.op.op must be set, delete or clear");
}

/**
 * Checks one decoded message from a host and returns it typed; throws a
 * {@linkcode ProtocolError} saying what is wrong.
 *
 * @example
 * ```ts
 * import { parseHostMessage } from "./host_protocol.ts";
 * const ok = parseHostMessage({ t: "pong", n: 1 });
 * console.assert(ok.t === "pong");
 * let why = "";
 * try {
 *   parseHostMessage({ t: "loaded", commands: [{ name: "evil", summary: "f", args: [{}] }] });
 * } catch (err) {
 *   why = (err as Error).message;
 * }
 * console.assert(why === "commands[0].args[0].name must be a string");
 * ```
 */
export function parseHostMessage(v: unknown): FromHost {
  if (!isObject(v)) fail("a message must be a map");
  switch (v.t) {
    case "loaded": {
      if (!Array.isArray(v.commands) || v.commands.length === 0 || v.commands.length > HOST_BOUNDS.commands) {
        fail(`loaded.commands must be an array of 1 to ${HOST_BOUNDS.commands} commands`);
      }
      return { t: "loaded", commands: v.commands.map((c, i) => parseCommandMeta(c, `commands[${i}]`)) };
    }
    case "load-error":
      return { t: "load-error", error: wireError(v.error, "load-error.error") };
    case "crash":
      return { t: "crash", error: wireError(v.error, "crash.error") };
    case "chunk":
      if (v.chunk === undefined) fail("chunk.chunk is missing");
      return { t: "chunk", id: id(v.id, "chunk"), chunk: v.chunk as Chunk };
    case "end":
      if (v.ok === true) return { t: "end", id: id(v.id, "end"), ok: true, result: v.result };
      if (v.ok === false) {
        return { t: "end", id: id(v.id, "end"), ok: false, error: wireError(v.error, "end.error") };
      }
      return fail("end.ok must be a boolean");
    case "pull":
      return { t: "pull", id: id(v.id, "pull") };
    case "state":
      return { t: "state", op: stateOp(v.op) };
    case "log": {
      if (!(LOG_LEVELS as readonly unknown[]).includes(v.level)) fail("log.level is not a log level");
      const fields = opt(v.fields);
      const logId = opt(v.id);
      if (fields !== undefined && !isObject(fields)) fail("log.fields must be a map");
      const msg: FromHost = {
        t: "log",
        level: v.level as LogLevel,
        msg: String(v.msg ?? "").slice(0, HOST_BOUNDS.message),
      };
      if (logId !== undefined) msg.id = id(logId, "log");
      if (fields !== undefined) msg.fields = fields as LogFields;
      return msg;
    }
    case "pong":
      if (typeof v.n !== "number") fail("pong.n must be a number");
      if (opt(v.rss) !== undefined && typeof v.rss !== "number") fail("pong.rss must be a number");
      return typeof v.rss === "number" ? { t: "pong", n: v.n, rss: v.rss } : { t: "pong", n: v.n };
    default:
      return fail(`unknown message type ${JSON.stringify(String(v.t).slice(0, 32))}`);
  }
}

/** Turns anything thrown into a {@linkcode WireError}. */
export function toWireError(err: unknown): WireError {
  if (err instanceof Error || (err && typeof err === "object" && "message" in err)) {
    const e = err as { name?: unknown; message?: unknown; status?: unknown; details?: unknown };
    const wire: WireError = {
      name: typeof e.name === "string" ? e.name : "Error",
      message: String(e.message ?? ""),
    };
    if (typeof e.status === "number") wire.status = e.status;
    if (e.details && typeof e.details === "object" && !Array.isArray(e.details)) {
      wire.details = e.details as Record<string, unknown>;
    }
    return wire;
  }
  return { name: "Error", message: String(err) };
}
