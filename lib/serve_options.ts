/**
 * What {@linkcode serve} (lib/server.ts) takes: the sockets, commands,
 * plugins, limits and logger of a server, and what a server hands the
 * process that replaces it.
 *
 * @module
 */
import type { AccessLevel, Command } from "./command.ts";
import type { ActivatedSocket } from "./activation.ts";
import type { Limits } from "./limits.ts";
import type { ListenOptions } from "./listener.ts";
import type { Logger, LogLevel } from "./log.ts";
import type { SandboxOptions } from "./runner/host_options.ts";
import type { StateOp } from "./runner/host_protocol.ts";

/** Options of `serve()`. */
export interface ServeOptions {
  /**
   * Socket path to listen on. May be left out when `listeners` names sockets
   * systemd passed (`fdName`), which are then the only ones.
   */
  path?: string;
  /**
   * The sockets systemd passed (see `systemdSockets()` in lib/activation.ts);
   * each is configured by the `listeners` entry whose `fdName` is its name.
   */
  activated?: readonly ActivatedSocket[];
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
  /**
   * Processes to supervise: a config file path, or the parsed config (see
   * docs/OPERATIONS.md). Adds the `ps`, `start`, `stop`, `restart`,
   * `signal`, `logs`, `events` and `reload` built-ins. The server needs the
   * `run` permission for each program, `kill` and `ps`.
   */
  supervise?: string | Record<string, unknown>;
  /**
   * Starts this server's successor (the `upgrade` built-in, which the server
   * has only when this is given); resolves to what the command answers.
   */
  upgrade?: () => Promise<unknown>;
  /** What the process this one replaces handed over: listening sockets, plugin state. */
  handed?: HandedOver;
  /**
   * Accept on path sockets with `node:net` rather than Deno's listener, so
   * that each connection has a descriptor a successor process can take over
   * (`sockd serve`'s upgrade moves them). Read through their handles
   * (lib/_handle_transport.ts), they measured no slower than Deno's listener
   * and take less memory per connection; see docs/PERFORMANCE.md.
   * @default {false}
   */
  movable?: boolean;
  /**
   * Called whenever a connection opens or closes (`sockd serve` gives memory
   * back once things are quiet after one: lib/cli/_idle_memory.ts).
   */
  onConnection?: () => void;
}

/**
 * A listening socket's `node:net` handle (its descriptor): what crosses the
 * upgrade channel. Received, it is open but not yet accepting; a
 * `node:net` server listens on it once the successor is ready.
 */
export interface ListenHandle {
  readonly fd: number;
  close(): void;
}

/** A listening socket the process this one replaces hands over. */
export interface HandedListener {
  /** The path `status` shows: the socket path, or `fd:NAME` for one systemd passed. */
  path: string;
  handle: ListenHandle;
  /** For a socket bound to a path: its file's inode, so the successor knows the file there is still its. */
  ino?: number;
}

/** What a server hands its successor process. */
export interface HandedOver {
  /** The listening sockets, by the path `status` shows. */
  listeners: HandedListener[];
  /** Each plugin file's state entries. */
  pluginState: Map<string, [string, unknown][]>;
  /**
   * Follows the old process's plugin state changes made after `pluginState`
   * was taken (while it still served); returns the unsubscribe function.
   */
  follow?: (listener: (file: string, op: StateOp) => void) => () => void;
  /**
   * In the successor: resolves once the old process's plugin state is final
   * (its last call ended and every change it made arrived). Plugin calls
   * wait for it, so the two processes never write plugin state at once.
   */
  stateFinal?: Promise<void>;
}
