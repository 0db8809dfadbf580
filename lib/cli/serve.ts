/**
 * `sockd serve`: host the built-ins and plugin directories on a socket until
 * SIGINT/SIGTERM; SIGHUP reloads the plugin directories.
 *
 * @module
 */
import type { Client } from "../client.ts";
import type { AccessLevel } from "../command.ts";
import type { Limits } from "../limits.ts";
import type { ListenOptions } from "../listener.ts";
import type { LogLevel } from "../log.ts";
import { systemdSockets } from "../activation.ts";
import { grantsNet } from "../runner/grants.ts";
import { type HandedOver, serve, type Server } from "../server.ts";
import { Exit } from "./exit_codes.ts";
import { SockdError, Status } from "../errors.ts";
import { type LogFormat, stderrLogger } from "./logger.ts";
import { errorLine } from "./render.ts";
import { defaultSocket, ensurePrivateDir } from "./socket_path.ts";
import { IdleMemory, reclaimFunctions } from "./_idle_memory.ts";

/** Options of {@linkcode runServe}. */
export interface ServeCliOptions {
  socket?: string;
  plugins: string[];
  logLevel: LogLevel;
  logFormat: LogFormat;
  mode?: number;
  access?: AccessLevel;
  group?: string;
  /** More sockets. */
  listen?: ListenOptions[];
  /** Replace a live server on the socket path, and tell it to drain. */
  takeover?: boolean;
  /** Started by `upgrade`: take the sockets and plugin state the parent process hands over. */
  successor?: boolean;
  limits?: Partial<Limits>;
  /** A supervisor config file: the processes to keep running. */
  supervise?: string;
}

/** Runs a server until a signal stops it; returns the exit code. */
export async function runServe(options: ServeCliOptions, stderr: (line: string) => void): Promise<number> {
  const logger = stderrLogger(options.logLevel, options.logFormat);
  let server;
  let old: Client | undefined;
  let activated;
  let handed: HandedOver | undefined;
  // First, before any plugin loads: this drops the ffi permission.
  const reclaim = await reclaimFunctions();
  // Loaded only where used (the client for --takeover too, below): the modules a server loads stay in
  // its memory for good (with the supervisor and the call/REPL CLI kept out: V8 heap 11.6 → 11.2 MiB).
  const successor = options.successor ? await import("./successor.ts") : undefined;
  try {
    // Sockets systemd passed replace the default one; an explicit --socket is bound beside them.
    activated = systemdSockets();
    if (successor) handed = await successor.receiveHandover();
  } catch (err) {
    successor?.report({ t: "failed", error: (err as Error).message });
    stderr(errorLine((err as Error).message));
    return Exit.FAILED;
  }
  // Sockets systemd passed (to this process, or to the one it replaces) stand instead of the default socket.
  const adopted = activated.length > 0 || (handed?.listeners.some((l) => l.path.startsWith("fd:")) ?? false);
  const fallback = options.socket === undefined && !adopted ? defaultSocket() : undefined;
  const path = options.socket ?? fallback?.path;
  const ref: { server?: Server } = {};
  const idleMemory = new IdleMemory({
    calls: () => ({ inFlight: ref.server?.callsInFlight ?? 0, ended: ref.server?.callsEnded ?? 0 }),
    reclaim,
    logger,
  });
  const upgrade = async () => {
    // Not before this process's own hand-over is complete: its plugin state must be final first.
    if (handed?.stateFinal) await waitFinal(handed.stateFinal);
    const { startSuccessor } = await import("./upgrade.ts");
    const next = await startSuccessor(ref.server!, Deno.args, logger);
    logger.info("Upgrade: the successor serves; handing the connections over and stopping", {
      pid: next.pid,
    });
    // After this answer is written: the successor has the sockets; the connections follow, this process ends.
    setTimeout(() => ref.server!.close({ moveTo: next.mover }), 0);
    return { upgraded: true, pid: next.pid };
  };
  try {
    // The default directory must be ours alone; explicit paths are checked by the listener.
    if (fallback?.privateDir) await ensurePrivateDir(fallback.privateDir, fallback.create);
    // Takeover: reach the old server before its path is renamed away from it.
    if (options.takeover && path && !options.successor) {
      const { connect } = await import("../client.ts");
      old = await connect(path, { timeoutMs: 2000 }).catch(() => undefined);
    }
    server = ref.server = await serve({
      path,
      activated,
      handed,
      upgrade,
      plugins: options.plugins,
      logger,
      mode: options.mode,
      access: options.access,
      group: options.group,
      listeners: options.listen,
      // A successor accepts on its predecessor's path sockets; one whose file has gone astray is replaced as
      // --takeover does.
      takeover: options.takeover || options.successor,
      limits: options.limits,
      supervise: options.supervise,
      // Connections accepted through node:net have descriptors: an upgrade moves them.
      movable: true,
      onConnection: () => idleMemory.changed(),
    });
  } catch (err) {
    successor?.report({ t: "failed", error: (err as Error).message });
    old?.close();
    stderr(errorLine((err as Error).message));
    return Exit.FAILED;
  }
  if (old) await handOver(old, options.limits?.drainTimeoutMs, logger);
  if (successor) {
    const running = server;
    successor.followOld({
      op: (file, op) => running.applyPluginState(file, op),
      connection: (socket, c) => {
        const moved = {
          ...(c.dialect ? { dialect: c.dialect, state: c.state } : {}),
          pending: successor.fromBase64(c.pending),
          follow: c.follow,
        };
        if (!running.adopt(socket, c, moved)) {
          logger.warn("A connection handed over has no socket of its kind here; closed", {
            listener: c.listener,
          });
        }
      },
    });
    successor.report({ t: "ready", pid: Deno.pid });
    logger.info("Took over from the server it replaces", { listeners: handed?.listeners.length ?? 0 });
  }
  // Least privilege: the listener is bound and accepting needs no permission,
  // so the network permission (granted broadly because the path is chosen at
  // run time) is dropped for the rest of the process's life. Plugin hosts are
  // processes of their own, with their own permissions, so a plugin granted
  // net does not need the server to keep it; a trusted inline plugin runs
  // with the server's permissions, so one granted net keeps it (revoking a
  // global grant is all or nothing) and the server says so.
  const netPlugins = server.plugins().filter((p) => p.runner === "inline" && grantsNet(p.grants));
  if (netPlugins.length === 0) {
    await Deno.permissions.revoke({ name: "net" });
    logger.debug("Dropped the network permission");
  } else {
    logger.info("Keeping the network permission: plugins are granted net hosts", {
      plugins: netPlugins.map((p) => p.file).join(","),
    });
  }

  // What loading left behind goes now, before clients keep the server busy (25–30 ms, once).
  await idleMemory.collect();

  const reload = () => {
    logger.info(options.supervise ? "SIGHUP: reloading plugins and processes" : "SIGHUP: reloading plugins");
    server.reload().catch((err) => logger.error("Reload failed", { error: (err as Error).message }));
  };
  Deno.addSignalListener("SIGHUP", reload);
  const upgradeOnSignal = () => {
    logger.info("SIGUSR2: upgrading");
    upgrade().catch((err) => logger.error("Upgrade failed", { error: (err as Error).message }));
  };
  Deno.addSignalListener("SIGUSR2", upgradeOnSignal);

  let signals = 0;
  const stop = (signal: Deno.Signal) => () => {
    signals++;
    logger.info(signals > 1 ? "Second signal: cancelling calls now" : "Stopping", { signal });
    server.close({ drainMs: signals > 1 ? 0 : undefined });
    if (signals > 1) server.close();
  };
  const handlers = (["SIGINT", "SIGTERM"] as const).map((s) => [s, stop(s)] as const);
  for (const [s, h] of handlers) Deno.addSignalListener(s, h);
  await server.finished;
  idleMemory.close();
  for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  Deno.removeSignalListener("SIGHUP", reload);
  Deno.removeSignalListener("SIGUSR2", upgradeOnSignal);
  return Exit.OK;
}

/**
 * Tells the server this one replaced to stop accepting and drain: its
 * clients finish their calls there; new connections already come here.
 */
async function handOver(old: Client, drainMs: number | undefined, logger: ReturnType<typeof stderrLogger>) {
  try {
    await old.call("shutdown", drainMs === undefined ? [] : ["--drain", String(drainMs)], { timeoutMs: 5000 })
      .result;
    logger.info("Took over: the old server is draining", {
      server: `${old.server.server} ${old.server.version}`,
    });
  } catch (err) {
    logger.warn("Took over the socket, but the old server refused to drain; stop it yourself", {
      error: (err as Error).message,
    });
  } finally {
    old.close();
  }
}

/** Until the state the process this one replaced handed over is final (bounded). */
async function waitFinal(final: Promise<void>) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((r) => timer = setTimeout(() => r(false), 30_000));
  const ok = await Promise.race([final.then(() => true), late]);
  clearTimeout(timer);
  if (!ok) {
    throw new SockdError(Status.BUSY, "The previous upgrade is still handing over; try again shortly");
  }
}
