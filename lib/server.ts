/**
 * The server: listeners, sessions, the registry and plugin loading, and the
 * lifecycle that ties them together.
 *
 * @module
 */
import { BUILTINS } from "../commands/mod.ts";
import { type AccessLevel, type Command, type CommandInfo, commandInfo, validateCommand } from "./command.ts";
import { Dispatcher } from "./dispatcher.ts";
import { type Limits, resolveLimits } from "./limits.ts";
import { bindSocket, type BoundSocket } from "./listener.ts";
import { type Logger, silentLogger } from "./log.ts";
import { type LoadFailure, loadPluginDirs } from "./plugins/loader.ts";
import { type Entry, Registry } from "./registry.ts";
import { Session } from "./session.ts";
import { connTransport } from "./_conn_transport.ts";
import { NAME, VERSION } from "./version.ts";

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  /** Socket path to listen on. */
  path: string;
  /** Commands of the embedding program, run inline. */
  commands?: readonly Command[];
  /** Plugin directories to load `*.ts`/`*.js` command files from. */
  plugins?: readonly string[];
  /** Include the built-in commands (help, ping, echo, version). @default {true} */
  builtins?: boolean;
  /** Socket file mode. @default {0o600} */
  mode?: number;
  /** What connections on this socket may call. @default {"admin"} */
  access?: AccessLevel;
  /** Bounds and deadlines; see {@linkcode Limits}. */
  limits?: Partial<Limits>;
  /** Where the server logs. @default silent */
  logger?: Logger;
}

/** A running server, as {@linkcode serve} returns it. */
export interface Server {
  /** Absolute socket path. */
  readonly path: string;
  /** Resolves once the server has closed. */
  readonly finished: Promise<void>;
  /** Plugin files that failed to load, with the reason. */
  readonly loadFailures: readonly LoadFailure[];
  /** Open connections. */
  readonly connections: number;
  /** The registered commands. */
  commands(): CommandInfo[];
  /**
   * Stops accepting, lets calls finish for up to `drainMs` (default: the
   * `drainTimeoutMs` limit), cancels the rest with 106, removes the socket file.
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
  const own = [
    ...(options.builtins === false ? [] : BUILTINS.map((c) => [c, "builtin"] as const)),
    ...(options.commands ?? []).map((c) => [validateCommand(c), "library"] as const),
  ];
  const report = await loadPluginDirs(options.plugins ?? []);
  const failures: LoadFailure[] = [...report.failures];
  const entries = new Map<string, Entry>();
  const sources = new Map<string, string>();
  const add = (cmd: Command, source: string, state: Map<string, unknown>) => {
    const prior = sources.get(cmd.name);
    if (prior !== undefined) {
      failures.push({ file: source, error: `Duplicate command "${cmd.name}": already defined by ${prior}` });
      return;
    }
    sources.set(cmd.name, source);
    entries.set(cmd.name, { command: cmd, info: commandInfo(cmd, source), state });
  };
  const builtinState = new Map<string, unknown>();
  for (const [cmd, source] of own) add(cmd, source, builtinState);
  for (const plugin of report.plugins) {
    const state = new Map<string, unknown>();
    for (const cmd of plugin.commands) add(cmd, plugin.file, state);
  }
  registry.replace(entries);
  for (const f of failures) logger.error("Plugin failed to load", { file: f.file, error: f.error });
  logger.info("Commands loaded", {
    commands: registry.size,
    plugins: report.plugins.length,
    failed: failures.length,
  });

  const dispatcher = new Dispatcher(registry, {
    limits,
    logger,
    server: { name: NAME, version: VERSION, commands: (access) => registry.list(access) },
    onCallEnd: (r) =>
      logger.debug("Call", {
        command: r.command,
        status: r.status,
        ms: Math.round(r.durationMs * 1000) / 1000,
        conn: r.caller.connection,
      }),
  });
  const bound = await bindSocket({ path: options.path, mode: options.mode, access: options.access }, logger);
  return new RunningServer(bound, dispatcher, registry, limits, logger, failures);
}

class RunningServer implements Server {
  readonly path: string;
  readonly finished: Promise<void>;
  readonly loadFailures: readonly LoadFailure[];
  #bound: BoundSocket;
  #dispatcher: Dispatcher;
  #registry: Registry;
  #limits: Limits;
  #logger: Logger;
  #sessions = new Set<Session>();
  #nextId = 1;
  #closing: Promise<void> | undefined;
  #accepting: Promise<void>;

  constructor(
    bound: BoundSocket,
    dispatcher: Dispatcher,
    registry: Registry,
    limits: Limits,
    logger: Logger,
    failures: LoadFailure[],
  ) {
    this.path = bound.path;
    this.#bound = bound;
    this.#dispatcher = dispatcher;
    this.#registry = registry;
    this.#limits = limits;
    this.#logger = logger;
    this.loadFailures = failures;
    this.#accepting = this.#accept();
    let done!: () => void;
    this.finished = new Promise((r) => done = r);
    this.#accepting.finally(() => this.close().then(done, done));
  }

  get connections(): number {
    return this.#sessions.size;
  }

  commands(): CommandInfo[] {
    return this.#registry.list();
  }

  close(options: { drainMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#shutdown(options.drainMs ?? this.#limits.drainTimeoutMs);
    return this.#closing;
  }

  async #shutdown(drainMs: number) {
    this.#logger.info("Shutting down", { connections: this.#sessions.size, drainMs });
    this.#bound.close();
    await Promise.allSettled([...this.#sessions].map((s) => s.shutdown(drainMs)));
    await this.#accepting.catch(() => {});
    this.#logger.info("Stopped");
  }

  async #accept() {
    const listener = this.#bound.listener;
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
      this.#start(conn);
    }
  }

  #start(conn: Deno.UnixConn) {
    const id = this.#nextId++;
    if (this.#sessions.size >= this.#limits.maxConnections) {
      this.#logger.warn("Connection refused: limit reached", {
        conn: id,
        limit: this.#limits.maxConnections,
      });
      const msg = new TextEncoder().encode(
        `error 109: too many connections (limit ${this.#limits.maxConnections})\n`,
      );
      conn.write(msg).catch(() => {}).finally(() => conn.close());
      return;
    }
    const session = new Session(connTransport(conn), {
      id,
      access: this.#bound.access,
      dispatcher: this.#dispatcher,
      limits: this.#limits,
      logger: this.#logger,
      hello: { name: NAME, version: VERSION },
    });
    this.#sessions.add(session);
    this.#logger.debug("Connected", { conn: id });
    session.run().finally(() => {
      this.#sessions.delete(session);
      this.#logger.debug("Disconnected", { conn: id, dialect: session.dialect });
    });
  }
}
