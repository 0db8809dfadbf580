/**
 * The server: {@linkcode serve} builds the registry (built-ins, library
 * commands, plugins), the dispatcher and the listeners, and starts a running
 * server (lib/_running_server.ts: status, reload, handover, shutdown). Plugin files run in their own host
 * processes (lib/runner/plugin_host.ts) and are reloaded when their directory changes, on
 * {@linkcode Server.reload}, and by the `reload` built-in.
 *
 * @module
 */
import { builtinsFor } from "../commands/mod.ts";
import type { AccessLevel, Command, CommandInfo, PluginStatus, ReloadReport } from "./command.ts";
import { commandInfo } from "./command_info.ts";
import { validateCommand } from "./validate_command.ts";
import { Dispatcher } from "./dispatcher.ts";
import { type ListenerLimits, resolveLimits } from "./limits.ts";
import type { ListenOptions } from "./listener.ts";
import { silentLogger } from "./log.ts";
import { Stats } from "./stats.ts";
import { SockdError, Status } from "./errors.ts";
import type { LoadFailure } from "./plugins/loader.ts";
import { type PluginCommand, PluginManager, type SkippedCommand } from "./plugins/manager.ts";
import { RunningServer } from "./_running_server.ts";
import { DEFAULT_SANDBOX_OPTIONS } from "./runner/host_options.ts";
import { type Entry, Registry } from "./registry.ts";
import type { SupervisingServerView } from "./supervise/types.ts";
import { abandonListeners, type Listening, openListeners } from "./_listener_set.ts";
import type { HandedOver, ServeOptions } from "./serve_options.ts";
import type { StateOp } from "./runner/host_protocol.ts";
import { logCall, setLogLevel } from "./_call_log.ts";
import { serverHello } from "./version.ts";
import { StateGate } from "./_state_gate.ts";
import type { ConnectionMover } from "./_connections.ts";
import type { MovedConnection } from "./_moved_connection.ts";
import type { Socket as NetSocket } from "node:net";

export type { HandedOver, ServeOptions } from "./serve_options.ts";
export type { ConnectionMover } from "./_connections.ts";
export type { Handoff, MovedConnection } from "./_moved_connection.ts";

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
  /** Calls running now, on every connection. */
  readonly callsInFlight: number;
  /** Calls ended since the server started. */
  readonly callsEnded: number;
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
   * Serves a connection the process this one replaced handed over (a socket
   * received over the upgrade channel), on the listener it came in on (or
   * one of the same access level), from where it stood; false (and the
   * socket closed) when there is none or the server is closing.
   */
  adopt(socket: NetSocket, from: { listener: string; access: string }, moved: MovedConnection): boolean;
  /**
   * Stops accepting, lets calls finish for up to `drainMs` (default: the
   * `drainTimeoutMs` limit), cancels the rest with 106, removes the socket file.
   * Called again with a `drainMs` while closing, it cuts the drain short to that.
   * With `moveTo` (an upgrade), each connection first moves to the successor
   * at a clean boundary; those that cannot within `drainMs` are closed as above.
   */
  close(options?: { drainMs?: number; moveTo?: ConnectionMover }): Promise<void>;
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
  // Loaded only by a server that supervises: a module loaded stays in memory (lib/cli/serve.ts says how much).
  const supervisor = options.supervise === undefined
    ? undefined
    : new (await import("./supervise/supervisor.ts")).Supervisor(options.supervise, { logger });
  const builtinState = new Map<string, unknown>();
  let ownSkipped: SkippedCommand[] = [];
  // A successor runs no plugin call before the state its predecessor hands over is final.
  const gate = options.handed?.stateFinal ? new StateGate(options.handed.stateFinal) : undefined;
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
      if (runner) entry.runner = gate && !gate.open ? gate.wrap(runner) : runner;
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
    bound = await openListeners(wanted, options.activated ?? [], limits, logger, {
      handed: options.handed?.listeners,
      movable: options.movable,
    });
  } catch (err) {
    plugins.close();
    throw err;
  }
  try {
    // Children start once the sockets are ours: a second server on the path starts none.
    await supervisor?.load();
  } catch (err) {
    abandonListeners(bound);
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
    onConnection: options.onConnection,
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
