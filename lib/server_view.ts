/**
 * What a command may see of the server it runs in: the {@linkcode ServerView}
 * in its context and the reports that view answers with (status, stats,
 * connections, plugins, reloads, command descriptions).
 *
 * Plugin-facing types like those of `./command.ts`: `sockd init` copies this
 * module next to it, so it imports nothing but types from `./command.ts`.
 *
 * @module
 */
import type { AccessLevel, ArgSpec, FlagSpec, PluginGrants } from "./command.ts";

/**
 * What a command may learn about its server.
 *
 * Built-in and library commands (run inline) also get `reload` and
 * `plugins`; a plugin in its own host process sees only `name`, `version` and
 * `commands`, so it cannot reload the server except by calling the
 * access-checked `reload` command like any client.
 */
export interface ServerView {
  /** Server name and version. */
  name: string;
  version: string;
  /** The commands a connection at `access` may call, sorted by name. */
  commands(access?: AccessLevel): CommandInfo[];
  /** Reloads the plugin directories (changed files only, unless `all`). */
  reload?(options?: { all?: boolean }): Promise<ReloadReport>;
  /** The plugin files, what they define, and whether they loaded. */
  plugins?(): PluginStatus[];
  /** Counters and latency percentiles (the `stats` built-in). */
  stats?(): StatsSnapshot;
  /** Who is connected, since when, and what they are running. */
  connections?(): ConnectionInfo[];
  /** The log level, after setting it to `level` when given; throws when the logger has none. */
  logLevel?(level?: string): string;
  /** Listeners, limits and plugin health (the `status` built-in). */
  status?(): ServerStatus;
  /** Stops accepting, lets calls finish for up to `drainMs`, then closes (the `shutdown` built-in). */
  shutdown?(drainMs?: number): void;
  /** Starts a successor process and hands it the sockets (the `upgrade` built-in); what it says. */
  upgrade?(): Promise<unknown>;
}

/** One connection, as the `connections` built-in shows it. */
export interface ConnectionInfo {
  id: number;
  listener: string;
  access: AccessLevel;
  /** `"?"` until the first bytes arrive. */
  dialect: string;
  /** When it connected (ISO 8601). */
  since: string;
  /** Calls running now. */
  calls: number;
  /** What they are: command and milliseconds so far (calls that answer at once are not listed). */
  running: { command: string; ms: number }[];
}

/** One listening socket. */
export interface ListenerInfo {
  /** Socket path, or `fd:NAME` for a socket systemd passed. */
  path: string;
  access: AccessLevel;
  /** File mode, e.g. `"0600"`; for a socket from systemd, `"set by the .socket unit"`. */
  mode: string;
  /** `"systemd"` when the socket was passed by systemd (socket activation). */
  activation?: "systemd";
  /** The name systemd gave the socket (`FileDescriptorName=`). */
  fdName?: string;
  /** Its open connections. */
  connections: number;
  /** Its own limits: connections, calls in flight, idle timeout. */
  limits: Record<string, number>;
}

/** What the `status` built-in answers. */
export interface ServerStatus {
  name: string;
  version: string;
  pid: number;
  uptimeSeconds: number;
  listeners: ListenerInfo[];
  connections: number;
  commands: number;
  /** `hosts`: plugin host processes running now (a host starts on first use and stops when idle). */
  plugins: { loaded: number; hosts: number; failed: { file: string; error: string }[] };
  limits: Record<string, number>;
  /** The log level, when the logger has one. */
  logLevel?: string;
}

/** Counters of a server since it started (see lib/stats.ts). */
export interface StatsSnapshot {
  uptimeSeconds: number;
  connections: {
    open: number;
    total: number;
    refused: number;
    /** Connections the client dropped abruptly (a reset, a broken pipe) rather than closed after its answers. */
    dropped: number;
    byDialect: Record<string, number>;
    byListener: Record<string, number>;
  };
  calls: { total: number; inFlight: number; errors: number };
  /** Per command: calls, errors by status code, p50/p99 latency in ms over the recent window. */
  commands: Record<string, { calls: number; errors: Record<string, number>; p50Ms: number; p99Ms: number }>;
}
/** One plugin file as the `plugins` built-in shows it. */
export interface PluginStatus {
  /** Absolute path of the plugin file (or of a directory or config that failed). */
  file: string;
  /** `loaded`: its newest version serves; `failed`: its newest version did not load; `disabled`: its host failed too often. */
  state: "loaded" | "failed" | "disabled";
  /** The version serving calls (1 for the first load, +1 per reload); 0 when none serves. */
  version: number;
  /** Commands it defines (those serving). */
  commands: string[];
  /** Why the newest version failed, or why it is disabled. */
  error?: string;
  /** Commands skipped because another source defines them. */
  warnings: string[];
  /** What it was granted. */
  grants: PluginGrants;
  /** The config file the grants come from, if any. */
  config?: string;
  /** `"process"` (its own host process) or `"inline"` (the server itself). */
  runner: "process" | "inline";
  /** Process id of its host, while one runs. */
  pid?: number;
  /**
   * Its host (a `"process"` plugin that loaded): `"running"`, `"starting"`
   * (for a call, or a restart) or `"stopped"` (idle: the next call starts it).
   */
  host?: "running" | "starting" | "stopped";
  /** When the serving version loaded (ISO 8601). */
  loadedAt?: string;
  /** Times the serving version's host was restarted (crash, memory cap, deadline). */
  restarts: number;
  /** Calls in flight on the serving version. */
  calls: number;
  /** Older versions still finishing calls. */
  retiring: number;
  /** Resident memory of the serving version's host process, in bytes. */
  memoryBytes?: number;
}

/** What a reload did. */
export interface ReloadReport {
  /** Plugin files whose new version now serves. */
  loaded: string[];
  /** Plugin files left as they were (unchanged). */
  unchanged: string[];
  /** Plugin files (or directories, configs) that failed; an older version, if any, keeps serving. */
  failed: { file: string; error: string }[];
  /** Plugin files that are gone, with their commands. */
  removed: string[];
  /** Commands registered after the reload. */
  commands: number;
  /** How long the reload took, in ms. */
  durationMs: number;
  /** What re-reading the supervisor's config did, when the server supervises processes. */
  processes?: { added: string[]; changed: string[]; removed: string[]; unchanged: string[] };
}

/** A command's public description (no code): what `help` and completion use. */
export interface CommandInfo {
  name: string;
  summary: string;
  description?: string;
  usage: string;
  access: AccessLevel;
  args: ArgSpec[];
  flags: Record<string, FlagSpec>;
  timeout?: number;
  persistent: boolean;
  /** Whether it reads its input. */
  input: boolean;
  /** Where it came from: `"builtin"`, `"library"`, or the plugin file. */
  source: string;
}
