/**
 * A server once its sockets are open: accepting connections, reporting its
 * status, reloading plugins, handing over to a successor and shutting down.
 * {@linkcode serve} (lib/server.ts) builds the parts and starts one.
 *
 * @module
 */
import type { CommandInfo, ConnectionInfo, PluginStatus, ReloadReport, ServerStatus } from "./command.ts";
import type { Dispatcher } from "./dispatcher.ts";
import type { Limits } from "./limits.ts";
import type { Logger, LogLevel } from "./log.ts";
import type { Stats } from "./stats.ts";
import { SockdError, Status } from "./errors.ts";
import type { LoadFailure } from "./plugins/loader.ts";
import type { PluginManager, SkippedCommand } from "./plugins/manager.ts";
import { type PluginWatcher, watchPluginDirs } from "./plugins/watcher.ts";
import type { Registry } from "./registry.ts";
import type { Supervisor } from "./supervise/supervisor.ts";
import { Refusals } from "./_refusal.ts";
import type { Listening } from "./_listener_set.ts";
import type { HandedOver, ListenHandle } from "./serve_options.ts";
import type { StateOp } from "./runner/host_protocol.ts";
import { type ConnectionMover, Connections } from "./_connections.ts";
import type { MovedConnection } from "./_moved_connection.ts";
import { socketTransport } from "./_handle_transport.ts";
import type { Socket as NetSocket } from "node:net";
import type { ServerHello } from "./dialects/dialect.ts";
import type { ListenerView, Server } from "./server.ts";

/** What {@linkcode RunningServer} gets besides its sockets, dispatcher, registry, limits and logger. */
export interface PluginParts {
  hello: ServerHello;
  plugins: PluginManager;
  supervisor: Supervisor | undefined;
  ownSkipped: () => SkippedCommand[];
  watch: boolean;
  stats: Stats;
  /** Called whenever a connection opens or closes. */
  onConnection?: () => void;
}

/** The {@linkcode Server} that `serve` returns. */
export class RunningServer implements Server {
  readonly path: string;
  readonly finished: Promise<void>;
  #plugins: PluginManager;
  #hello: ServerHello;
  #supervisor: Supervisor | undefined;
  #ownSkipped: () => SkippedCommand[];
  #watcher: PluginWatcher | undefined;
  #bound: Listening[];
  #stats: Stats;
  #started = Date.now();
  #dispatcher: Dispatcher;
  #registry: Registry;
  #limits: Limits;
  #logger: Logger & { level?: LogLevel };
  #connections: Connections;
  #closing: Promise<void> | undefined;
  #accepting: Promise<void>;

  constructor(
    bound: Listening[],
    dispatcher: Dispatcher,
    registry: Registry,
    limits: Limits,
    logger: Logger & { level?: LogLevel },
    parts: PluginParts,
  ) {
    this.path = bound[0]!.socket.path;
    this.#stats = parts.stats;
    this.#plugins = parts.plugins;
    this.#hello = parts.hello;
    this.#supervisor = parts.supervisor;
    this.#ownSkipped = parts.ownSkipped;
    this.#bound = bound;
    this.#dispatcher = dispatcher;
    this.#registry = registry;
    this.#limits = limits;
    this.#logger = logger;
    if (parts.watch && parts.plugins.dirs.length > 0) {
      this.#watcher = watchPluginDirs(parts.plugins.dirs, (paths) => {
        logger.info("Plugin files changed: reloading", { changed: paths.length });
        this.reload().catch((err) => logger.error("Reload failed", { error: String(err) }));
      }, { logger });
    }
    this.#connections = new Connections({
      dispatcher,
      stats: parts.stats,
      logger,
      refusals: new Refusals(limits, parts.hello),
      hello: parts.hello,
      closing: () => this.#closing !== undefined,
      onConnection: parts.onConnection,
    });
    this.#accepting = Promise.all(bound.map((b) => this.#connections.accept(b))).then(() => {});
    let done!: () => void;
    this.finished = new Promise((r) => done = r);
    this.#accepting.finally(() => this.close().then(done, done));
  }

  get connections(): number {
    return this.#connections.sessions.size;
  }

  get listeners(): ListenerView[] {
    return this.#bound.map(({ socket: b, limits, sessions }) => ({
      path: b.path,
      access: b.access,
      mode: b.mode,
      origin: b.origin,
      tookOver: b.tookOver,
      limits: { ...limits },
      connections: sessions.size,
    }));
  }

  /** Calls running on every connection. */
  get callsInFlight(): number {
    return this.#connections.callsInFlight;
  }

  get callsEnded(): number {
    return this.#stats.callsEnded;
  }

  /** The open connections, oldest first. */
  connectionList(): ConnectionInfo[] {
    return this.#connections.list();
  }

  status(): ServerStatus {
    const plugins = this.#plugins.status();
    return {
      name: this.#hello.name,
      version: this.#hello.version,
      pid: Deno.pid,
      uptimeSeconds: Math.round((Date.now() - this.#started) / 1000),
      listeners: this.#bound.map(({ socket: b, limits, sessions }) => ({
        path: b.path,
        access: b.access,
        // A socket from systemd has the mode and owner its .socket unit gave it.
        mode: b.mode === undefined ? "set by the .socket unit" : "0" + b.mode.toString(8),
        ...(b.origin === "systemd" ? { activation: "systemd", fdName: b.fdName } : {}),
        connections: sessions.size,
        limits: { ...limits },
      })),
      connections: this.#connections.sessions.size,
      commands: this.#registry.size,
      plugins: {
        loaded: plugins.filter((p) => p.state === "loaded").length,
        hosts: plugins.filter((p) => p.host === "running").length,
        failed: this.loadFailures.map((f) => ({ file: f.file, error: f.error })),
      },
      limits: { ...this.#limits },
      ...(this.#logger.level ? { logLevel: this.#logger.level } : {}),
    };
  }

  commands(): CommandInfo[] {
    return this.#registry.list();
  }

  get loadFailures(): readonly LoadFailure[] {
    const out: LoadFailure[] = [...this.#ownSkipped()];
    for (const p of this.#plugins.status()) {
      if (p.state !== "loaded" && p.error !== undefined) out.push({ file: p.file, error: p.error });
      for (const w of p.warnings) out.push({ file: p.file, error: w });
    }
    return out;
  }

  async reload(options: { all?: boolean } = {}): Promise<ReloadReport> {
    if (this.#closing) throw new SockdError(Status.BUSY, "Server is shutting down");
    const report = await this.#plugins.reload(options);
    if (this.#supervisor) {
      // A config that does not load changes nothing: the processes carry on as they were.
      report.processes = await this.#supervisor.load().catch((err) => {
        report.failed.push({
          file: this.#supervisor!.file ?? "supervise config",
          error: (err as Error).message,
        });
        return undefined;
      });
      if (report.processes === undefined) delete report.processes;
    }
    this.#logger.info("Plugins reloaded", {
      loaded: report.loaded.length,
      unchanged: report.unchanged.length,
      failed: report.failed.length,
      removed: report.removed.length,
      commands: report.commands,
      ms: report.durationMs,
    });
    return report;
  }

  plugins(): PluginStatus[] {
    return this.#plugins.status();
  }

  handover(): HandedOver {
    return {
      // The sockets themselves (their node:net handles): the successor accepts on them, their queues kept.
      listeners: this.#bound.flatMap(({ socket }) => {
        const handle = (socket.server as unknown as { _handle?: ListenHandle } | undefined)?._handle;
        return handle
          ? [{ path: socket.path, handle, ...(socket.ino === undefined ? {} : { ino: socket.ino }) }]
          : [];
      }),
      pluginState: this.#plugins.states(),
      follow: (listener) => this.#plugins.followStates(listener),
    };
  }

  applyPluginState(file: string, op: StateOp): void {
    this.#plugins.applyState(file, op);
  }

  adopt(socket: NetSocket, from: { listener: string; access: string }, moved: MovedConnection): boolean {
    const listening = this.#bound.find((b) => b.socket.path === from.listener) ??
      this.#bound.find((b) => b.socket.access === from.access);
    if (!listening || this.#closing) {
      socket.destroy();
      return false;
    }
    (socket as unknown as { allowHalfOpen: boolean }).allowHalfOpen = true;
    this.#connections.resume(socketTransport(socket), listening, moved);
    return true;
  }

  close(options: { drainMs?: number; moveTo?: ConnectionMover } = {}): Promise<void> {
    if (this.#closing && options.drainMs !== undefined) {
      // Closing again with a drain time (a second signal: 0) cuts the drain under way short.
      for (const s of this.#connections.sessions) s.shutdown(options.drainMs).catch(() => {});
    }
    this.#closing ??= this.#shutdown(options.drainMs ?? this.#limits.drainTimeoutMs, options.moveTo);
    return this.#closing;
  }

  async #shutdown(drainMs: number, moveTo: ConnectionMover | undefined) {
    this.#logger.info(moveTo ? "Handing the connections over" : "Shutting down", {
      connections: this.#connections.sessions.size,
      drainMs,
    });
    // Handed over, a socket's file now leads to the successor, which accepts on the same socket.
    for (const b of this.#bound) {
      b.socket.close({ keepFile: moveTo !== undefined && b.socket.server !== undefined });
    }
    this.#watcher?.close();
    this.#supervisor?.endStreams();
    // Children stop (or are left) while calls drain: a successor taking over starts its own at once.
    const children = this.#supervisor?.close();
    if (moveTo) {
      const total = this.#connections.sessions.size;
      const moved = await this.#connections.moveAll(moveTo, drainMs);
      this.#logger.info("Connections handed over", { moved, closed: total - moved });
    }
    await Promise.allSettled([...this.#connections.sessions].map((s) => s.shutdown(drainMs)));
    // No call runs here any more: what the plugin state holds now is final.
    await moveTo?.finished();
    this.#plugins.close();
    await children;
    await this.#accepting.catch(() => {});
    this.#logger.info("Stopped");
  }
}
