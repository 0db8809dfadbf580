/**
 * The successor's side of an upgrade (see lib/cli/upgrade.ts): `sockd serve
 * --successor` receives the listening sockets and the plugin state from the
 * process it replaces over the IPC channel that process opened, starts
 * serving on them, and says so (or says why it could not).
 *
 * @module
 */
import type { Server as NetServer } from "node:net";
import process from "node:process";
import { decode } from "../codec.ts";
import { noteInherited } from "../_inherited_fds.ts";
import type { StateOp } from "../runner/host_protocol.ts";

function fromBase64(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}
import type { HandedOver } from "../server.ts";

/** The hidden `serve` option that makes a process a successor. */
export const SUCCESSOR_FLAG = "--successor";

/** Messages from the old process, in order: listeners (each with its server), the state, done. */
export type ToSuccessor =
  | { t: "listener"; path: string }
  | { t: "state"; plugins: [string, string][] }
  | { t: "done" }
  | { t: "op"; file: string; op: string };

/** Messages to the old process. */
export type FromSuccessor = { t: "ready"; pid: number } | { t: "failed"; error: string };

/** How long the old process may take to hand everything over. */
const RECEIVE_TIMEOUT_MS = 10_000;

/** Plugin state changes the old process made after its snapshot: applied once the server runs. */
const ops: { file: string; op: StateOp }[] = [];
let applyOp: ((file: string, op: StateOp) => void) | undefined;

/** From now on, state changes of the old process go to `apply` (those that came already first). */
export function followOldState(apply: (file: string, op: StateOp) => void): void {
  for (const { file, op } of ops.splice(0)) apply(file, op);
  applyOp = apply;
}

/** Receives what the old process hands over; rejects when there is no channel, or on time-out. */
export function receiveHandover(timeoutMs = RECEIVE_TIMEOUT_MS): Promise<HandedOver> {
  if (typeof process.send !== "function") {
    return Promise.reject(new Error("--successor is for a server started by `upgrade`: there is no channel"));
  }
  const handed: HandedOver = { listeners: [], pluginState: new Map() };
  forgetChannel();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.off("message", onMessage);
      process.disconnect?.();
      reject(new Error(`The server being replaced handed nothing over within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (msg: ToSuccessor, handle?: NetServer) => {
      if (msg?.t === "op") {
        const op = decode(fromBase64(msg.op)) as StateOp;
        if (applyOp) applyOp(msg.file, op);
        else ops.push({ file: msg.file, op });
      } else if (msg?.t === "listener" && handle) handed.listeners.push({ path: msg.path, server: handle });
      else if (msg?.t === "state") {
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

/**
 * The IPC channel is a descriptor every process this one starts would
 * inherit, with `NODE_CHANNEL_FD` naming it: a plugin host would open the
 * channel to the old server. The variable goes, and plugin hosts close the
 * descriptor before any plugin runs (lib/_inherited_fds.ts).
 */
function forgetChannel() {
  try {
    const fd = Number(Deno.env.get("NODE_CHANNEL_FD"));
    if (Number.isInteger(fd) && fd > 2) noteInherited(fd);
    Deno.env.delete("NODE_CHANNEL_FD");
    Deno.env.delete("NODE_CHANNEL_SERIALIZATION_MODE");
  } catch { /* not permitted: hosts inherit the variable, and the old server checks who says ready */ }
}

/** Tells the old process how the start went; then lets the channel go. */
export function report(msg: FromSuccessor): void {
  try {
    process.send?.(msg, undefined, undefined, () => {});
  } catch { /* the old process is gone */ }
}
