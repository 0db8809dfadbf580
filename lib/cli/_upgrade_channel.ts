/**
 * The old process's end of the upgrade channel: every message to the
 * successor goes through one queue, in order, and a message that carries a
 * descriptor (a listening socket, a connection) is sent only once the
 * successor has read everything before it.
 *
 * Why: Deno 2.9's IPC reader attaches a descriptor that arrives with
 * `SCM_RIGHTS` to whichever message it is parsing when the bytes arrive,
 * so a handle sent right behind plain messages (plugin state changes) can
 * land on one of those and be lost (seen here: the first of nine sockets
 * sent after 50 plain messages arrived, the rest never did). A `sync`
 * message the successor answers with `synced` empties its read buffer
 * first; Deno itself holds later sends until the successor acknowledges the
 * handle.
 *
 * @module
 */
import type { ChildProcess } from "node:child_process";
import type { Socket as NetSocket } from "node:net";
import type { ListenHandle } from "../serve_options.ts";
import type { FromSuccessor, ToSuccessor } from "./successor.ts";

/** How long the successor has to answer a `sync`. */
const SYNC_TIMEOUT_MS = 10_000;

/** Ordered sends to the successor. */
export class UpgradeChannel {
  #child: ChildProcess;
  #tail: Promise<unknown> = Promise.resolve();
  #syncs = new Map<number, () => void>();
  #nextSync = 1;

  constructor(child: ChildProcess) {
    this.#child = child;
    child.on("message", (msg: FromSuccessor) => {
      if (msg?.t === "synced") {
        this.#syncs.get(msg.n)?.();
        this.#syncs.delete(msg.n);
      }
    });
  }

  /** Sends `msg` (with `handle`) after everything sent before; resolves once written. */
  send(msg: ToSuccessor, handle?: ListenHandle | NetSocket): Promise<void> {
    const run = async () => {
      if (handle) await this.#sync();
      await this.#write(msg, handle);
    };
    const done = this.#tail.then(run);
    this.#tail = done.catch(() => {});
    return done;
  }

  #write(msg: ToSuccessor | { t: "sync"; n: number }, handle?: ListenHandle | NetSocket): Promise<void> {
    if (!this.#child.connected) return Promise.reject(new Error("The successor's channel is closed"));
    return new Promise((resolve, reject) => {
      try {
        this.#child.send(msg, handle as never, (err: Error | null) => err ? reject(err) : resolve());
      } catch (err) {
        reject(err);
      }
    });
  }

  /** Until the successor has read every message sent so far. */
  async #sync(): Promise<void> {
    const n = this.#nextSync++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answered = new Promise<void>((resolve, reject) => {
      this.#syncs.set(n, resolve);
      timer = setTimeout(
        () => reject(new Error(`The successor did not answer within ${SYNC_TIMEOUT_MS} ms`)),
        SYNC_TIMEOUT_MS,
      );
    });
    try {
      await this.#write({ t: "sync", n });
      await answered;
    } finally {
      clearTimeout(timer);
      this.#syncs.delete(n);
    }
  }
}
