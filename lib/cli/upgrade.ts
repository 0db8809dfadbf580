/**
 * `sockd call upgrade` and SIGUSR2, the old process's side: start the
 * successor (this executable again, through `/proc/self/exe` as plugin
 * hosts are started, with this process's own arguments and `--successor`),
 * hand it the listening sockets it can adopt and the plugin state over a
 * `node:child_process` IPC channel, and wait for it to say it serves. Only
 * then does this process stop accepting and hand over its connections, each
 * at a clean boundary (see `Session.moveOut`): its socket crosses the same
 * channel (SCM_RIGHTS), with its dialect, prompt mode, unread bytes and the
 * persistent calls it followed. Plugin state changes made meanwhile follow
 * in order, and `final` says no call runs here any more. If the successor
 * exits, says it failed, or stays silent past the deadline, it is killed and
 * this process goes on serving everything, and the command answers 105 with
 * the reason.
 *
 * Listening sockets cross the channel too, each as its descriptor: those
 * systemd passed and those this process bound to a path alike. Both
 * processes accept on them until this one stops; the socket files and the
 * queues of connections not yet accepted stay, so no client is refused.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { encode } from "../codec.ts";
import { SockdError, Status } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ConnectionMover, Server } from "../server.ts";
import type { ListenHandle } from "../serve_options.ts";
import type { MovableTransport } from "../_adopted_listener.ts";
import { selfCommand } from "./self_command.ts";
import { UpgradeChannel } from "./_upgrade_channel.ts";
import { inheritedFds } from "../_inherited_fds.ts";
import { type FromSuccessor, SUCCESSOR_FLAG, type ToSuccessor, type WireConnection } from "./successor.ts";

/** How long the successor has to load its plugins, take the sockets and say it serves. */
export const UPGRADE_TIMEOUT_MS = 20_000;
/** How long telling the successor that the plugin state is final may take. */
const FINAL_TIMEOUT_MS = 5000;
/** The running executable: the only program the sockd permission set may run. */
const EXE = "/proc/self/exe";

/**
 * The environment the successor gets: the variables this process may read
 * (its permission set names them; `node:child_process` cannot pass on the
 * rest without reading them), plus those Deno itself needs when readable.
 */
const PASSED_ENV = [
  "SOCKD_SOCKET",
  "SOCKD_LOG_LEVEL",
  "SOCKD_TRUST_OWNER",
  "XDG_RUNTIME_DIR",
  "XDG_STATE_HOME",
  "XDG_CACHE_HOME",
  "HOME",
  "TMPDIR",
  "NO_COLOR",
  "TERM",
  "PATH",
  "DENO_DIR",
];

function successorEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of PASSED_ENV) {
    try {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    } catch { /* not this process's to read */ }
  }
  return env;
}

/** The arguments that start this server again as a successor: the same `serve` options. */
export function successorArgs(args: readonly string[]): string[] {
  const self = selfCommand();
  if (!self) {
    throw new SockdError(Status.HANDLER_ERROR, "sockd is not running from files on disk; cannot restart it");
  }
  const serveAt = args.indexOf("serve");
  if (serveAt < 0) throw new SockdError(Status.HANDLER_ERROR, "This process is not `sockd serve`");
  const rest = args.slice(serveAt + 1).filter((a) => a !== SUCCESSOR_FLAG);
  return [...self.slice(1), ...args.slice(0, serveAt + 1), SUCCESSOR_FLAG, ...rest];
}

/**
 * Starts the successor and hands over; resolves with its pid once it
 * serves (this server should then close), rejects with a 105 saying why not.
 */
export function startSuccessor(
  server: Server,
  args: readonly string[],
  logger: Logger,
  timeoutMs = UPGRADE_TIMEOUT_MS,
): Promise<{ pid: number; mover: ConnectionMover }> {
  const argv = successorArgs(args);
  const fail = (why: string) =>
    new SockdError(Status.HANDLER_ERROR, `Upgrade failed: ${why}; this server goes on`);
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    // What the successor inherits (no close-on-exec): it closes them first. 0-2 are stdio, 3 its channel.
    const inherited = inheritedFds().filter((fd) => fd > 3);
    try {
      child = spawn(EXE, argv, { stdio: ["ignore", "inherit", "inherit", "ipc"], env: successorEnv() });
    } catch (err) {
      reject(fail(`cannot start the successor: ${(err as Error).message}`));
      return;
    }
    let settled = false;
    const settle = (err?: SockdError, pid?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      if (err) {
        unfollow?.();
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
        try {
          child.disconnect?.();
        } catch { /* not connected */ }
        reject(err);
      } else {
        // State changes of the calls this process still finishes keep following until it exits.
        // The successor outlives this process: do not keep this one alive for it.
        child.unref();
        resolve({ pid: pid!, mover: moverTo(child, channel, unfollow, logger) });
      }
    };
    const timer = setTimeout(
      () => settle(fail(`the successor did not report ready within ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.on("error", (err) => settle(fail(`cannot start the successor: ${err.message}`)));
    child.on(
      "exit",
      (code, signal) =>
        settle(
          fail(`the successor exited (${signal ? `signal ${signal}` : `code ${code}`}) before it served`),
        ),
    );
    child.on("message", (msg: FromSuccessor) => {
      // Only the successor itself may say it serves (not a process it started).
      if (msg?.t === "ready" && msg.pid === child.pid) settle(undefined, msg.pid);
      else if (msg?.t === "failed") settle(fail(`the successor could not start: ${String(msg.error)}`));
    });
    const channel = new UpgradeChannel(child);
    channel.send({ t: "close", fds: inherited }).catch(() => {});
    const send = (msg: ToSuccessor, handle?: ListenHandle) =>
      channel.send(msg, handle).catch((err: Error) => {
        if (!settled) settle(fail(`cannot hand over to the successor: ${err.message}`));
      });
    // Changes made from now on (this process serves until the successor does) follow the snapshot.
    const handover = server.handover();
    const unfollow = handover.follow?.((file, op) => {
      if (child.connected) send({ t: "op", file, op: encodeBase64(encode(op)) });
    });
    // The bare handle, not its net.Server: sent so, it stays open and accepting here (a net.Server is closed
    // once the successor has it) until the successor serves, and the successor accepts only once it can serve.
    for (const l of handover.listeners) {
      send({ t: "listener", path: l.path, ...(l.ino === undefined ? {} : { ino: l.ino }) }, l.handle);
    }
    const state: [string, string][] = [];
    for (const [file, entries] of handover.pluginState) {
      try {
        state.push([file, encodeBase64(encode(entries))]);
      } catch (err) {
        logger.warn("Plugin state cannot be handed over; the successor starts without it", {
          file,
          error: (err as Error).message,
        });
      }
    }
    send({ t: "state", plugins: state });
    send({ t: "done" });
    logger.info("Upgrade: successor started", { pid: child.pid, listeners: handover.listeners.length });
  });
}

/** Sends connections over the channel; once all are gone, says the state is final and lets the channel go. */
function moverTo(
  child: ChildProcess,
  channel: UpgradeChannel,
  unfollow: (() => void) | undefined,
  logger: Logger,
): ConnectionMover {
  return {
    async move(h, from) {
      const socket = (h.transport as MovableTransport).socket;
      const conn: WireConnection = {
        listener: from.listener,
        access: from.access,
        ...(h.moved.dialect ? { dialect: h.moved.dialect, state: h.moved.state } : {}),
        pending: encodeBase64(h.moved.pending),
        follow: h.moved.follow,
      };
      try {
        await channel.send({ t: "conn", conn }, socket);
      } finally {
        // Sent: the successor has its own copy of the descriptor; this one closes (no shutdown).
        socket.destroy();
      }
    },
    async finished() {
      unfollow?.();
      // Sent before this process exits; the successor stops waiting by itself if it never arrives.
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          channel.send({ t: "final" }),
          new Promise((_, reject) =>
            timer = setTimeout(() => reject(new Error("timed out")), FINAL_TIMEOUT_MS)
          ),
        ]);
      } catch (err) {
        logger.warn("Could not tell the successor the plugin state is final", { error: String(err) });
      } finally {
        clearTimeout(timer);
      }
      try {
        child.disconnect();
      } catch { /* gone */ }
    },
  };
}

function encodeBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
