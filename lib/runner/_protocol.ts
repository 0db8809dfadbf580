/**
 * The messages between the server and a sandbox worker (structured clone over
 * `postMessage`). One `call` produces `chunk`s (at most `credit` ahead of the
 * server's `ack`s) and exactly one `end`, sent once the plugin's code for the
 * call has settled. `pull`/`input` move the caller's input one chunk at a
 * time, so neither side buffers more than one chunk of it.
 *
 * @module
 */
import type { CallerInfo, Chunk, CommandInfo, Flags } from "../command.ts";
import type { LogFields, LogLevel } from "../log.ts";

/** An error as it crosses the worker boundary. */
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

/** What a sandboxed plugin sees of its server. */
export interface ViewSnapshot {
  name: string;
  version: string;
  commands: CommandInfo[];
}

/** A command's definition without its code, as the worker reports it. */
export interface CommandMeta {
  name: string;
  summary: string;
  description?: string;
  args?: CommandInfo["args"];
  flags?: CommandInfo["flags"];
  access?: CommandInfo["access"];
  timeout?: number;
  persistent?: boolean;
}

/** Server → worker. */
export type HostMessage =
  | {
    type: "init";
    state: [string, unknown][];
    view: ViewSnapshot;
    maxStateEntries: number;
    logsPerSecond: number;
  }
  | {
    type: "call";
    id: number;
    command: string;
    args: string[];
    flags: Flags;
    caller: CallerInfo;
    credit: number;
  }
  | { type: "ack"; id: number; n: number }
  | { type: "input"; id: number; chunk?: Uint8Array; done?: boolean }
  | { type: "cancel"; id: number; reason: WireError }
  | { type: "state"; op: StateOp }
  | { type: "view"; view: ViewSnapshot }
  | { type: "ping"; n: number };

/** Worker → server. */
export type WorkerMessage =
  | { type: "loaded"; commands: CommandMeta[] }
  | { type: "load-error"; error: WireError }
  | { type: "chunk"; id: number; chunk: Chunk }
  | { type: "end"; id: number; ok: true; result?: unknown }
  | { type: "end"; id: number; ok: false; error: WireError }
  | { type: "pull"; id: number }
  | { type: "state"; op: StateOp }
  | { type: "log"; id?: number; level: LogLevel; msg: string; fields?: LogFields }
  | { type: "crash"; error: WireError }
  | { type: "pong"; n: number };

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
      try {
        wire.details = structuredClone(e.details as Record<string, unknown>);
      } catch { /* not cloneable: dropped */ }
    }
    return wire;
  }
  return { name: "Error", message: String(err) };
}
