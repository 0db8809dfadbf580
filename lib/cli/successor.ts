/**
 * The successor's side of an upgrade (see lib/cli/upgrade.ts): `sockd serve
 * --successor` receives the listening sockets and the plugin state from the
 * process it replaces over the IPC channel that process opened, starts
 * serving on them, and says so (or says why it could not).
 *
 * @module
 */
import type { Socket as NetSocket } from "node:net";
import type { FollowedCall } from "../_moved_connection.ts";
import process from "node:process";
import { decode } from "../codec.ts";
import { closeInheritedFds, forgetInherited, noteInherited } from "../_inherited_fds.ts";
import type { StateOp } from "../runner/host_protocol.ts";

/** Bytes from base64 (what crosses the JSON channel). */
export function fromBase64(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}
import type { HandedOver } from "../server.ts";
import type { ListenHandle } from "../serve_options.ts";

/** The hidden `serve` option that makes a process a successor. */
export const SUCCESSOR_FLAG = "--successor";

/**
 * Messages from the old process, in order: listeners (each with its server),
 * the state, done; then (once this process says it serves) state changes
 * and connections (each with its socket) as they come, and `final` once no
 * call runs there any more.
 */
export type ToSuccessor =
  | { t: "close"; fds: number[] }
  | { t: "listener"; path: string; ino?: number }
  | { t: "state"; plugins: [string, string][] }
  | { t: "done" }
  | { t: "op"; file: string; op: string }
  | { t: "conn"; conn: WireConnection }
  | { t: "final" }
  | { t: "sync"; n: number };

/** A moved connection as it crosses the channel (JSON): the bytes not yet used in base64. */
export interface WireConnection {
  listener: string;
  access: string;
  dialect?: string;
  state?: Record<string, unknown>;
  pending: string;
  follow: FollowedCall[];
}

/** Messages to the old process (`synced` answers `sync`: every message before it was read). */
export type FromSuccessor =
  | { t: "ready"; pid: number }
  | { t: "failed"; error: string }
  | { t: "synced"; n: number };

/** How long the old process may take to hand everything over. */
const RECEIVE_TIMEOUT_MS = 10_000;

/** What the old process sends once the server runs: its state changes and its connections. */
export interface OldProcessSink {
  op(file: string, op: StateOp): void;
  connection(socket: NetSocket, conn: WireConnection): void;
}

/** Plugin state changes (and connections) the old process sent before the server ran: passed on once it does. */
const early: ((sink: OldProcessSink) => void)[] = [];
let sink: OldProcessSink | undefined;

/** From now on, what the old process sends goes to `to` (what came already first). */
export function followOld(to: OldProcessSink): void {
  for (const f of early.splice(0)) f(to);
  sink = to;
}

function pass(f: (sink: OldProcessSink) => void) {
  if (sink) f(sink);
  else early.push(f);
}

/** How long a successor's plugin calls may wait for the old process's final state, at most. */
const FINAL_STATE_TIMEOUT_MS = 60_000;

/** Receives what the old process hands over; rejects when there is no channel, or on time-out. */
export function receiveHandover(timeoutMs = RECEIVE_TIMEOUT_MS): Promise<HandedOver> {
  if (typeof process.send !== "function") {
    return Promise.reject(new Error("--successor is for a server started by `upgrade`: there is no channel"));
  }
  let final!: () => void;
  const stateFinal = new Promise<void>((r) => final = r);
  const handed: HandedOver = { listeners: [], pluginState: new Map(), stateFinal };
  // The old process is gone or silent: what arrived is all there is.
  process.once("disconnect", () => final());
  const lastly = setTimeout(() => final(), FINAL_STATE_TIMEOUT_MS);
  stateFinal.then(() => clearTimeout(lastly));
  forgetChannel();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.off("message", onMessage);
      letGo();
      reject(new Error(`The server being replaced handed nothing over within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (msg: ToSuccessor, handle?: ListenHandle | NetSocket) => {
      if (msg?.t === "close") {
        // The old process's sockets this one inherited at spawn (no close-on-exec): its copies go.
        closeInheritedFds(sockets(msg.fds));
      } else if (msg?.t === "sync") {
        report({ t: "synced", n: msg.n });
      } else if (msg?.t === "op") {
        const op = decode(fromBase64(msg.op)) as StateOp;
        pass((s) => s.op(msg.file, op));
      } else if (msg?.t === "conn" && handle) {
        pass((s) => s.connection(handle as NetSocket, msg.conn));
      } else if (msg?.t === "final") {
        final();
        letGo();
      } else if (msg?.t === "listener" && handle) {
        // A listening socket's handle, open but not accepting: the server listens on it once it runs.
        handed.listeners.push({
          path: String(msg.path),
          handle: handle as ListenHandle,
          ...(Number.isInteger(msg.ino) ? { ino: msg.ino } : {}),
        });
      } else if (msg?.t === "state") {
        for (const [file, b64] of msg.plugins) {
          handed.pluginState.set(
            file,
            decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))) as [
              string,
              unknown,
            ][],
          );
        }
      } else if (msg?.t === "done") {
        // The listener stays: state changes keep coming until the old process exits.
        clearTimeout(timer);
        resolve(handed);
      }
    };
    process.on("message", onMessage);
  });
}

/** The descriptors of a `close` message: above 3 (stdio and this process's channel). */
function sockets(fds: unknown): number[] {
  return Array.isArray(fds) ? fds.filter((fd): fd is number => Number.isInteger(fd) && fd > 3) : [];
}

/** The descriptor of the channel to the old process (lib/cli/upgrade.ts spawns with it at stdio[3]). */
const CHANNEL_FD = 3;

/**
 * The IPC channel is a descriptor every process this one starts would
 * inherit, with `NODE_CHANNEL_FD` naming it: a plugin host would open the
 * channel to the old server. The variable goes, and plugin hosts close the
 * descriptor before any plugin runs (lib/_inherited_fds.ts).
 */
function forgetChannel() {
  // The old process put the channel at descriptor 3 (its spawn's stdio[3]); Deno may have read the
  // variable away already. Forgotten once the channel closes: the number is then free for reuse.
  noteInherited(CHANNEL_FD);
  process.once("disconnect", () => forgetInherited(CHANNEL_FD));
  try {
    Deno.env.delete("NODE_CHANNEL_FD");
    Deno.env.delete("NODE_CHANNEL_SERIALIZATION_MODE");
  } catch { /* not permitted: hosts inherit the variable, and the old server checks who says ready */ }
}

/** Closes the channel, if the old process has not already. */
function letGo() {
  try {
    process.disconnect?.();
  } catch { /* already disconnected */ }
}

/** Tells the old process how the start went; then lets the channel go. */
export function report(msg: FromSuccessor): void {
  try {
    process.send?.(msg, undefined, undefined, () => {});
  } catch { /* the old process is gone */ }
}
