/**
 * The server: listeners, sessions, the registry and plugin loading, and the
 * lifecycle that ties them together. Plugin files run in their own host
 * processes (lib/runner/plugin_host.ts) and are reloaded when their directory changes, on
 * {@linkcode Server.reload}, and by the `reload` built-in.
 *
 * @module
 */
import { BUILTINS, PLUGIN_BUILTINS } from "../commands/mod.ts";
import {
  type AccessLevel,
  type Command,
  type CommandInfo,
  commandInfo,
  type ConnectionInfo,
  type PluginStatus,
  type ReloadReport,
  type ServerStatus,
  type ServerView,
  validateCommand,
} from "./command.ts";
import { Dispatcher } from "./dispatcher.ts";
import { type Limits, type ListenerLimits, listenerLimits, resolveLimits } from "./limits.ts";
import { bindSocket, type BoundSocket, type ListenOptions } from "./listener.ts";
import { LOG_LEVELS, type Logger, type LogLevel, silentLogger } from "./log.ts";
import { Stats } from "./stats.ts";
import { SockdError, Status } from "./errors.ts";
import type { LoadFailure } from "./plugins/loader.ts";
import { type PluginCommand, PluginManager, type SkippedCommand } from "./plugins/manager.ts";
import { type PluginWatcher, watchPluginDirs } from "./plugins/watcher.ts";
import { DEFAULT_SANDBOX_OPTIONS, type SandboxOptions } from "./runner/host_options.ts";
import { type Entry, Registry } from "./registry.ts";
import { type CallPool, Session } from "./session.ts";
import { Refusals } from "./_refusal.ts";
import { connTransport } from "./_conn_transport.ts";
import { serverHello } from "./version.ts";
import type { ServerHello } from "./dialects/dialect.ts";

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  /** Socket path to listen on. */
  path: string;
  /**
   * The name the server gives itself: in msgpack's hello, `version`, `status`
   * and the REPL's banner and prompt (1-64 printable characters). @default {"sockd"}
   */
  name?: string;
  /** The version it reports with the name. @default sockd's own */
  version?: string;
  /** Commands of the embedding program, run inline. */
  commands?: readonly Command[];
  /** Plugin directories to load `*.ts`/`*.js` command files from. */
  plugins?: readonly string[];
  /**
   * Include the built-in commands (help, ping, echo, version; and reload,
   * plugins when there are plugin directories). @default {true}
   */
  builtins?: boolean;
  /** Socket file mode. @default {0o600} */
  mode?: number;
  /** What connections on this socket may call. @default {"admin"} */
  access?: AccessLevel;
  /** Group owning the socket file (name or gid), for modes like 0660. */
  group?: string | number;
  /**
   * Replace a live server on `path` instead of refusing to start: the new
   * socket is renamed over the old one, so new connections come here while
   * the old server's connections carry on. Telling the old server to drain
   * is the caller's part (`sockd serve --takeover` calls its `shutdown`).
   * @default {false}
   */
  takeover?: boolean;
  /**
   * More sockets, each with its own path, mode, group, access level and
   * limits, e.g. a world-connectable read-only socket beside the admin one.
   */
  listeners?: readonly Omit<ListenOptions, "takeover">[];
  /** Bounds and deadlines; see {@linkcode Limits}. */
  limits?: Partial<Limits>;
  /**
   * Where the server logs. @default silent. A logger with a writable `level`
   * property (as the CLI's) can be changed at run time by `log-level`.
   */
  logger?: Logger & { level?: LogLevel };
  /**
   * Bounds, deadlines and restart policy of plugin host processes; see
   * {@linkcode SandboxOptions}. Plugins need the `run` permission for
   * `/proc/self/exe` (the host is the running executable).
   */
  sandbox?: Partial<SandboxOptions>;
  /** Reload plugins when their directories change (debounced). @default {true} */
  watch?: boolean;
}

/** One socket of a running server. */
export interface ListenerView {
  path: string;
  access: AccessLevel;
  mode: number;
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
  const hello = serverHello(options);
  const limits = resolveLimits(options.limits);
  const registry = new Registry();
  checkLibraryNames(options.commands ?? [], options.builtins !== false);
  const own = [
    ...(options.builtins === false ? [] : BUILTINS.map((c) => [c, "builtin"] as const)),
    // `reload` and `plugins` only where there are plugins to reload and list.
    ...(options.builtins === false || !options.plugins?.length
      ? []
      : PLUGIN_BUILTINS.map((c) => [c, "builtin"] as const)),
    ...(options.commands ?? []).map((c) => [validateCommand(c), "library"] as const),
  ];
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
  const view: ServerView = {
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
    {
      path: options.path,
      mode: options.mode,
      access: options.access,
      group: options.group,
      takeover: options.takeover,
    },
    ...(options.listeners ?? []),
  ];
  const bound: Listening[] = [];
  try {
    for (const l of wanted) {
      // Computed first: nonsense limits are refused before anything is bound.
      const own = listenerLimits(limits, l.access ?? "admin", l.limits);
      const socket = await bindSocket(l, logger);
      bound.push({
        socket,
        limits: own,
        sessionLimits: {
          ...limits,
          maxCallsPerConnection: own.maxCallsPerConnection,
          idleTimeoutMs: own.idleTimeoutMs,
        },
        sessions: new Set(),
        calls: { inFlight: 0, max: own.maxCalls },
      });
    }
  } catch (err) {
    for (const b of bound) b.socket.close();
    plugins.close();
    throw err;
  }
  ref.server = new RunningServer(bound, dispatcher, registry, limits, logger, {
    hello,
    plugins,
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
function checkLibraryNames(commands: readonly Command[], builtins: boolean) {
  const taken = new Set(builtins ? [...BUILTINS, ...PLUGIN_BUILTINS].map((c) => c.name) : []);
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

/**
 * Logs a finished call: as an audit trail at info for commands that change
 * things (operate, admin), at debug for read-only ones, and at warn when a
 * command failed.
 */
function logCall(
  logger: Logger & { level?: LogLevel },
  registry: Registry,
  r: import("./dispatcher.ts").CallRecord,
) {
  // On the hot path: skip the work when the logger would drop the line anyway.
  const floor = logger.level === undefined ? 0 : LOG_LEVELS.indexOf(logger.level);
  const failed = r.status === Status.HANDLER_ERROR;
  if (floor > LOG_LEVELS.indexOf(failed ? "warn" : "info")) return;
  const fields = {
    command: r.command,
    status: r.status,
    ms: Math.round(r.durationMs * 1000) / 1000,
    conn: r.caller.connection,
    access: r.caller.access,
  };
  if (failed) return logger.warn("Call failed", fields);
  const needs = registry.get(r.command)?.info.access;
  if (needs === "operate" || needs === "admin") logger.info("Call", fields);
  else if (floor === 0) logger.debug("Call", fields);
}

function setLogLevel(logger: Logger & { level?: LogLevel }, level: string | undefined): string {
  if (logger.level === undefined) {
    throw new SockdError(Status.HANDLER_ERROR, "This server's logger has no level to change");
  }
  if (level !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw new SockdError(Status.BAD_ARGS, `Unknown log level "${level}" (use ${LOG_LEVELS.join(", ")})`);
    }
    const before = logger.level;
    logger.level = level as LogLevel;
    logger.info("Log level changed", { from: before, to: level });
  }
  return logger.level;
}

/** A bound socket and what its connections share: their own limits and counts. */
interface Listening {
  socket: BoundSocket;
  limits: ListenerLimits;
  /** The server's limits with this listener's own in place, as its sessions apply them. */
  sessionLimits: Limits;
  sessions: Set<Session>;
  calls: CallPool;
}

interface PluginParts {
  hello: ServerHello;
  plugins: PluginManager;
  ownSkipped: () => SkippedCommand[];
  watch: boolean;
  stats: Stats;
}

class RunningServer implements Server {
  readonly path: string;
  readonly finished: Promise<void>;
  #plugins: PluginManager;
  #ownSkipped: () => SkippedCommand[];
  #watcher: PluginWatcher | undefined;
  #bound: Listening[];
  #refusals: Refusals;
  #stats: Stats;
  #started = Date.now();
  #dispatcher: Dispatcher;
  #registry: Registry;
  #limits: Limits;
  #logger: Logger & { level?: LogLevel };
  #sessions = new Set<Session>();
  #hello: ServerHello;
  #nextId = 1;
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
    this.#hello = parts.hello;
    this.#refusals = new Refusals(limits, parts.hello);
    this.#stats = parts.stats;
    this.#plugins = parts.plugins;
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
    this.#accepting = Promise.all(bound.map((b) => this.#accept(b))).then(() => {});
    let done!: () => void;
    this.finished = new Promise((r) => done = r);
    this.#accepting.finally(() => this.close().then(done, done));
  }

  get connections(): number {
    return this.#sessions.size;
  }

  get listeners(): ListenerView[] {
    return this.#bound.map(({ socket: b, limits, sessions }) => ({
      path: b.path,
      access: b.access,
      mode: b.mode,
      tookOver: b.tookOver,
      limits: { ...limits },
      connections: sessions.size,
    }));
  }

  /** Calls running on every connection. */
  get callsInFlight(): number {
    let n = 0;
    for (const s of this.#sessions) n += s.callsInFlight;
    return n;
  }

  /** The open connections, oldest first. */
  connectionList(): ConnectionInfo[] {
    return [...this.#sessions].map((s) => ({
      id: s.id,
      listener: s.listener,
      access: s.access,
      dialect: s.dialect,
      since: s.since.toISOString(),
      calls: s.callsInFlight,
      running: s.running(),
    }));
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
        mode: "0" + b.mode.toString(8),
        connections: sessions.size,
        limits: { ...limits },
      })),
      connections: this.#sessions.size,
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

  close(options: { drainMs?: number } = {}): Promise<void> {
    if (this.#closing && options.drainMs !== undefined) {
      // Closing again with a drain time (a second signal: 0) cuts the drain under way short.
      for (const s of this.#sessions) s.shutdown(options.drainMs).catch(() => {});
    }
    this.#closing ??= this.#shutdown(options.drainMs ?? this.#limits.drainTimeoutMs);
    return this.#closing;
  }

  async #shutdown(drainMs: number) {
    this.#logger.info("Shutting down", { connections: this.#sessions.size, drainMs });
    for (const b of this.#bound) b.socket.close();
    this.#watcher?.close();
    await Promise.allSettled([...this.#sessions].map((s) => s.shutdown(drainMs)));
    this.#plugins.close();
    await this.#accepting.catch(() => {});
    this.#logger.info("Stopped");
  }

  async #accept(bound: Listening) {
    const listener = bound.socket.listener;
    while (true) {
      let conn: Deno.UnixConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.#closing || err instanceof Deno.errors.BadResource) return;
        this.#logger.warn("Accept failed", { error: String(err) });
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (this.#closing) {
        conn.close();
        continue;
      }
      this.#start(conn, bound);
    }
  }

  #start(conn: Deno.UnixConn, listening: Listening) {
    const id = this.#nextId++;
    const bound = listening.socket;
    const own = listening.limits;
    this.#stats.connected();
    // Each listener has its own pool: a flood on one socket never takes another's capacity.
    if (listening.sessions.size >= own.maxConnections) {
      this.#stats.refused();
      this.#logger.warn("Connection refused: limit reached", {
        conn: id,
        listener: bound.path,
        limit: own.maxConnections,
      });
      this.#refusals.refuse(conn, `too many connections (limit ${own.maxConnections})`);
      return;
    }
    const session = new Session(connTransport(conn), {
      id,
      listener: bound.path,
      access: bound.access,
      onDialect: (dialect) => {
        this.#stats.dialect(bound.path, dialect, 1);
        this.#logger.debug("Connected", { conn: id, listener: bound.path, dialect });
      },
      dispatcher: this.#dispatcher,
      limits: listening.sessionLimits,
      calls: listening.calls,
      logger: this.#logger,
      hello: { ...this.#hello, access: bound.access },
      onDropped: () => this.#stats.dropped(),
    });
    this.#sessions.add(session);
    listening.sessions.add(session);
    session.run().finally(() => {
      this.#sessions.delete(session);
      listening.sessions.delete(session);
      if (session.dialect !== "?") this.#stats.dialect(bound.path, session.dialect, -1);
      this.#logger.debug("Disconnected", {
        conn: id,
        dialect: session.dialect,
        seconds: Math.round((Date.now() - session.since.getTime()) / 100) / 10,
      });
    });
  }
}
