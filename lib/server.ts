/**
 * The server: listeners, sessions, the registry and plugin loading, and the
 * lifecycle that ties them together. Plugin files run in their own host
 * processes (lib/runner/plugin_host.ts) and are reloaded when their directory changes, on
 * {@linkcode Server.reload}, and by the `reload` built-in.
 *
 * @module
 */
import { builtinsFor } from "../commands/mod.ts";
import type {
  AccessLevel,
  Command,
  CommandInfo,
  ConnectionInfo,
  PluginStatus,
  ReloadReport,
  ServerStatus,
} from "./command.ts";
import { commandInfo } from "./command_info.ts";
import { validateCommand } from "./validate_command.ts";
import { Dispatcher } from "./dispatcher.ts";
import { type Limits, type ListenerLimits, resolveLimits } from "./limits.ts";
import type { ListenOptions } from "./listener.ts";
import { type Logger, type LogLevel, silentLogger } from "./log.ts";
import { Stats } from "./stats.ts";
import { SockdError, Status } from "./errors.ts";
import type { LoadFailure } from "./plugins/loader.ts";
import { type PluginCommand, PluginManager, type SkippedCommand } from "./plugins/manager.ts";
import { type PluginWatcher, watchPluginDirs } from "./plugins/watcher.ts";
import { DEFAULT_SANDBOX_OPTIONS } from "./runner/host_options.ts";
import { type Entry, Registry } from "./registry.ts";
import { Supervisor } from "./supervise/supervisor.ts";
import type { SupervisingServerView } from "./supervise/types.ts";
import { Refusals } from "./_refusal.ts";
import { type Listening, openListeners } from "./_listener_set.ts";
import type { HandedOver, ServeOptions } from "./serve_options.ts";
import type { StateOp } from "./runner/host_protocol.ts";
import { Connections } from "./_connections.ts";
import { logCall, setLogLevel } from "./_call_log.ts";
import { serverHello } from "./version.ts";
import type { ServerHello } from "./dialects/dialect.ts";

export type { HandedOver, ServeOptions } from "./serve_options.ts";

/** One socket of a running server. */
export interface ListenerView {
  /** Its path, or `fd:NAME` for a socket systemd passed. */
  path: string;
  access: AccessLevel;
  /** The file mode sockd gave it; undefined when systemd made the socket. */
  mode: number | undefined;
  /** "path": bound by this server; "systemd": passed by systemd (socket activation). */
  origin: "path" | "systemd";
  tookOver: boolean;
  /** Its own limits (connections, calls, idle timeout). */
  limits: ListenerLimits;
  /** Its open connections. */
  connections: number;
}

/** A running server, as {@linkcode serve} returns it. */
export interface Server {
  /** Absolute path of the first socket. */
  readonly path: string;
  /** Every socket, with its access level, mode and own limits. */
  readonly listeners: readonly ListenerView[];
  /** Resolves once the server has closed. */
  readonly finished: Promise<void>;
  /** Plugin files (or commands) that failed to load, with the reason; current after each reload. */
  readonly loadFailures: readonly LoadFailure[];
  /** Open connections. */
  readonly connections: number;
  /** The registered commands. */
  commands(): CommandInfo[];
  /**
   * Reloads the plugin directories: files that changed (every file with
   * `all`). New calls go to the new versions; calls in flight finish on the
   * old ones; a file that fails to load keeps its old version serving.
   */
  reload(options?: { all?: boolean }): Promise<ReloadReport>;
  /** The plugin files: commands, state (loaded, failed with its error), grants. */
  plugins(): PluginStatus[];
  /** What a successor process takes over: the listening sockets it can adopt, the plugin state. */
  handover(): HandedOver;
  /** Applies a plugin state change the process this one replaced made after handing its state over. */
  applyPluginState(file: string, op: StateOp): void;
  /**
   * Stops accepting, lets calls finish for up to `drainMs` (default: the
   * `drainTimeoutMs` limit), cancels the rest with 106, removes the socket file.
   * Called again with a `drainMs` while closing, it cuts the drain short to that.
   */
  close(options?: { drainMs?: number }): Promise<void>;
}

/**
 * Starts a server on a UNIX socket.
 *
 * A stale socket file (nobody listening) is replaced; a live server on the
 * path makes this reject with a message saying so.
 *
 * @example Embed a control socket in a program
 * ```ts
 * import { connect, serve } from "sockd";
 *
 * let requests = 0;
 * const path = `${await Deno.makeTempDir()}/app.sock`;
 * const server = await serve({
 *   path,
 *   commands: [{ name: "requests", summary: "Requests served", run: () => requests }],
 * });
 * const client = await connect(path);
 * requests = 42;
 * console.assert(await client.call("requests").result === 42);
 * client.close();
 * await server.close();
 * ```
 */
export async function serve(options: ServeOptions): Promise<Server> {
  const logger = options.logger ?? silentLogger;
  const limits = resolveLimits(options.limits);
  const registry = new Registry();
  const hello = serverHello(options);
  // `reload`, `plugins`, `upgrade` and the process commands only where there is something they act on.
  const builtins = options.builtins === false ? [] : builtinsFor({
    plugins: !!options.plugins?.length,
    supervise: options.supervise !== undefined,
    upgrade: options.upgrade !== undefined,
  });
  checkLibraryNames(options.commands ?? [], builtins);
  const own = [
    ...builtins.map((c) => [c, "builtin"] as const),
    ...(options.commands ?? []).map((c) => [validateCommand(c), "library"] as const),
  ];
  const supervisor = options.supervise === undefined
    ? undefined
    : new Supervisor(options.supervise, { logger });
  const builtinState = new Map<string, unknown>();
  let ownSkipped: SkippedCommand[] = [];
  // Builds the whole name → entry map and swaps it in at once.
  const commit = (plugins: PluginCommand[]) => {
    const entries = new Map<string, Entry>();
    const sources = new Map<string, string>();
    const skipped: SkippedCommand[] = [];
    const add = (
      cmd: Command,
      source: string,
      state: Map<string, unknown>,
      runner?: PluginCommand["runner"],
    ) => {
      const prior = sources.get(cmd.name);
      if (prior !== undefined) {
        skipped.push({ file: source, error: `Duplicate command "${cmd.name}": already defined by ${prior}` });
        return;
      }
      sources.set(cmd.name, source);
      const entry: Entry = { command: cmd, info: commandInfo(cmd, source), state };
      if (runner) entry.runner = runner;
      entries.set(cmd.name, entry);
    };
    for (const [cmd, source] of own) add(cmd, source, builtinState);
    ownSkipped = [...skipped];
    for (const p of plugins) add(p.command, p.file, p.state, p.runner);
    registry.replace(entries);
    return { skipped, size: entries.size };
  };
  const plugins = new PluginManager(options.plugins ?? [], {
    logger,
    sandbox: { ...DEFAULT_SANDBOX_OPTIONS, ...options.sandbox },
    view: () => ({ name: hello.name, version: hello.version, commands: registry.list() }),
    commit,
    initialState: options.handed?.pluginState,
  });
  const report = await plugins.reload({ all: true });
  for (const f of ownSkipped) logger.error("Command skipped", { source: f.file, error: f.error });
  logger.info("Commands loaded", {
    commands: registry.size,
    plugins: report.loaded.length,
    failed: report.failed.length,
  });

  const stats = new Stats();
  const ref: { server?: RunningServer } = {};
  const running = () => {
    if (!ref.server) throw new SockdError(Status.BUSY, "Server is starting");
    return ref.server;
  };
  const view: SupervisingServerView = {
    name: hello.name,
    version: hello.version,
    commands: (access) => registry.list(access),
    reload: (o) => ref.server ? ref.server.reload(o) : plugins.reload(o),
    plugins: () => plugins.status(),
    stats: () => stats.snapshot(running().callsInFlight),
    connections: () => running().connectionList(),
    logLevel: (level) => setLogLevel(logger, level),
    status: () => running().status(),
    shutdown: (drainMs) => void running().close({ drainMs }),
    ...(options.upgrade ? { upgrade: options.upgrade } : {}),
    ...(supervisor ? { processes: supervisor } : {}),
  };
  const dispatcher = new Dispatcher(registry, {
    limits,
    logger,
    server: view,
    onCallEnd: (r) => {
      // Names that are not commands count together, so typos cannot grow the table.
      stats.callEnded(r.status === Status.NOT_FOUND ? "(unknown)" : r.command, r.status, r.durationMs);
      logCall(logger, registry, r);
    },
  });
  const wanted: ListenOptions[] = [
    ...(options.path === undefined ? [] : [{
      path: options.path,
      mode: options.mode,
      access: options.access,
      group: options.group,
      takeover: options.takeover,
    }]),
    ...(options.listeners ?? []),
  ];
  if (wanted.length === 0) throw new TypeError("serve() needs a path, or listeners");
  let bound: Listening[];
  try {
    bound = await openListeners(wanted, options.activated ?? [], limits, logger, options.handed?.listeners);
  } catch (err) {
    plugins.close();
    throw err;
  }
  try {
    // Children start once the sockets are ours: a second server on the path starts none.
    await supervisor?.load();
  } catch (err) {
    for (const b of bound) b.socket.close();
    plugins.close();
    await supervisor?.close();
    throw err;
  }
  ref.server = new RunningServer(bound, dispatcher, registry, limits, logger, {
    hello,
    plugins,
    supervisor,
    ownSkipped: () => ownSkipped,
    watch: options.watch ?? true,
    stats,
  });
  return ref.server;
}

/**
 * The embedding program's own commands must not clash with each other or
 * with a built-in: that is a programmer error, reported at once rather than
 * as a skipped command in a log nobody reads.
 */
function checkLibraryNames(commands: readonly Command[], builtins: readonly Command[]) {
  const taken = new Set(builtins.map((c) => c.name));
  const seen = new Set<string>();
  for (const c of commands) {
    const name = (c as Partial<Command>)?.name;
    if (typeof name !== "string") continue; // validateCommand reports it
    if (taken.has(name)) {
      throw new TypeError(`Command "${name}" is a built-in; rename yours, or pass builtins: false`);
    }
    if (seen.has(name)) throw new TypeError(`Command "${name}" is given twice`);
    seen.add(name);
  }
}

interface PluginParts {
  hello: ServerHello;
  plugins: PluginManager;
  supervisor: Supervisor | undefined;
  ownSkipped: () => SkippedCommand[];
  watch: boolean;
  stats: Stats;
}

class RunningServer implements Server {
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
      listeners: this.#bound.flatMap(({ socket }) =>
        socket.server ? [{ path: socket.path, server: socket.server }] : []
      ),
      pluginState: this.#plugins.states(),
      follow: (listener) => this.#plugins.followStates(listener),
    };
  }

  applyPluginState(file: string, op: StateOp): void {
    this.#plugins.applyState(file, op);
  }

  close(options: { drainMs?: number } = {}): Promise<void> {
    if (this.#closing && options.drainMs !== undefined) {
      // Closing again with a drain time (a second signal: 0) cuts the drain under way short.
      for (const s of this.#connections.sessions) s.shutdown(options.drainMs).catch(() => {});
    }
    this.#closing ??= this.#shutdown(options.drainMs ?? this.#limits.drainTimeoutMs);
    return this.#closing;
  }

  async #shutdown(drainMs: number) {
    this.#logger.info("Shutting down", { connections: this.#connections.sessions.size, drainMs });
    for (const b of this.#bound) b.socket.close();
    this.#watcher?.close();
    this.#supervisor?.endStreams();
    // Children stop (or are left) while calls drain: a successor taking over starts its own at once.
    const children = this.#supervisor?.close();
    await Promise.allSettled([...this.#connections.sessions].map((s) => s.shutdown(drainMs)));
    this.#plugins.close();
    await children;
    await this.#accepting.catch(() => {});
    this.#logger.info("Stopped");
  }
}
