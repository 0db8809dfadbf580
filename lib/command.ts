/**
 * The command model: what a plugin file exports and what `run` receives.
 *
 * A plugin imports only types from this module, so it loads anywhere (in its
 * host process, in the compiled binary) without resolving sockd itself.
 *
 * @module
 */
import type { Logger } from "./log.ts";

/** Access levels, least privileged first (as HAProxy's user < operator < admin). */
export const ACCESS_LEVELS = ["read", "operate", "admin"] as const;
/** One of {@linkcode ACCESS_LEVELS}. */
export type AccessLevel = typeof ACCESS_LEVELS[number];

/** True when a connection at `have` may call a command that needs `need`. */
export function accessAllows(have: AccessLevel, need: AccessLevel): boolean {
  return ACCESS_LEVELS.indexOf(have) >= ACCESS_LEVELS.indexOf(need);
}

/** One chunk of a command's output: text, bytes, or a structured value. */
export type Chunk = string | Uint8Array | JsonValue;

/** A value that survives every dialect: JSON-like, plus bytes. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | JsonValue[]
  | { [key: string]: JsonValue };

/** A positional argument of a command. */
export interface ArgSpec {
  /** Name shown in usage, e.g. `"file"`. */
  name: string;
  /** One line shown in `help CMD`. */
  description?: string;
  /** May be left out. @default {false} */
  optional?: boolean;
  /** Takes all remaining words (must be last). @default {false} */
  variadic?: boolean;
}

/** A flag of a command, e.g. `--lines 10` or `-f`. */
export interface FlagSpec {
  /** How the value is parsed. */
  type: "boolean" | "string" | "number";
  /** One-letter alias, e.g. `"n"` for `-n`. */
  short?: string;
  /** One line shown in `help CMD`. */
  description?: string;
  /** Value when the flag is absent. */
  default?: boolean | string | number;
}

/** Values of parsed flags, by flag name. */
export type Flags = Record<string, boolean | string | number | undefined>;

/** What a command's `run` returns: a value, a promise of one, or a stream of chunks. */
export type RunResult =
  | unknown
  | Promise<unknown>
  | AsyncIterable<Chunk>;

/**
 * A command, as a plugin file default-exports it (alone or in an array).
 *
 * @example A unary command and a streaming one
 * ```ts
 * import type { Command } from "sockd";
 *
 * export const greet: Command = {
 *   name: "greet",
 *   summary: "Say hello",
 *   args: [{ name: "who", optional: true }],
 *   run: (ctx) => `hello ${ctx.args[0] ?? "world"}`,
 * };
 *
 * export const count: Command = {
 *   name: "count",
 *   summary: "Count to N, one line at a time",
 *   flags: { to: { type: "number", default: 3 } },
 *   async *run(ctx) {
 *     for (let i = 1; i <= Number(ctx.flags.to); i++) yield `${i}\n`;
 *   },
 * };
 * ```
 */
export interface Command {
  /** What callers type: lowercase letters, digits, `-`, `_`, `.`, `:`. */
  name: string;
  /** One line for `help`. */
  summary: string;
  /** Extra text for `help CMD`; the usage line itself is generated from args and flags. */
  description?: string;
  /**
   * Positional arguments. Extra words are a usage error (110) unless the last
   * is variadic. Not declared: the command gets its words as they are (flags
   * too, when `flags` is not declared either); `[]` declares none.
   */
  args?: ArgSpec[];
  /** Flags, by long name. Unknown flags are a usage error (110). */
  flags?: Record<string, FlagSpec>;
  /** Level a connection needs to call it. @default {"operate"} */
  access?: AccessLevel;
  /** Deadline in ms; 0 for none. Defaults to the server's `defaultCallTimeoutMs`. */
  timeout?: number;
  /** A long-lived stream (a followed log) that survives reloads and reconnects. */
  persistent?: boolean;
  /**
   * The command reads `ctx.input`: `sockd call` sends it its stdin (and
   * sends stdin to no other command). @default {false}
   */
  input?: boolean;
  /** Runs one call. Return a value, or be an async generator that yields chunks. */
  run(ctx: Context): RunResult;
}

/** What `run` receives. */
export interface Context {
  /** The command's name as called. */
  command: string;
  /** Positional arguments, after flags are taken out. */
  args: string[];
  /** Parsed flags, defaults filled in. */
  flags: Flags;
  /** Aborted on cancel, disconnect, deadline and shutdown; its `reason` says which. */
  signal: AbortSignal;
  /** What the caller sends as input (empty when it sends none). */
  input: ReadableStream<Uint8Array>;
  /** Logs with the call's command and connection attached. */
  log: Logger;
  /** Per-plugin state that survives reloads of the plugin. */
  state: Map<string, unknown>;
  /** The calling connection. */
  caller: CallerInfo;
  /** Introspection of the server the command runs in. */
  server: ServerView;
}

/** Who is calling. */
export interface CallerInfo {
  /** Connection number, unique for the server's lifetime. */
  connection: number;
  /** The dialect the connection speaks. */
  dialect: string;
  /** The listener's access level. */
  access: AccessLevel;
}

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
  plugins: { loaded: number; failed: { file: string; error: string }[] };
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

/**
 * What the operator granted one plugin file in its directory's `sockd.json`
 * (see docs/PLUGINS.md). Each key is `true` (all of that kind) or a list;
 * an absent key is denied.
 */
export interface PluginGrants {
  /** Paths the plugin may read. */
  read?: true | string[];
  /** Paths the plugin may write. */
  write?: true | string[];
  /** Hosts (`host[:port]`) the plugin may connect to. */
  net?: true | string[];
  /** Environment variables the plugin may read. */
  env?: true | string[];
  /** Programs the plugin may run. */
  run?: true | string[];
  /** System information kinds (`hostname`, `loadavg`, ...). */
  sys?: true | string[];
  /**
   * Module specifiers (or prefixes of them) the plugin may import besides
   * files in its own directory, `node:` built-ins and `sockd`: e.g.
   * `"npm:zod@3"`, `"/srv/shared/"`, `"https://example.com/lib/"`.
   */
  import?: true | string[];
  /** Heap cap of the plugin's isolate, in MiB. @default {256} */
  memory?: number;
  /**
   * Where the plugin runs: `"process"`, its own host process with only its
   * grants; or `"inline"`, in the server itself with all of the server's
   * permissions (trusted, hot code only). @default {"process"}
   */
  sandbox?: "process" | "inline";
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

const NAME_RE = /^[a-z0-9][a-z0-9._:-]{0,63}$/;
const FLAG_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;

/**
 * Checks that `value` is a well-formed command and returns it typed.
 * Throws a `TypeError` saying what is wrong otherwise.
 *
 * @example
 * ```ts
 * import { validateCommand } from "sockd";
 * const cmd = validateCommand({ name: "up", summary: "Uptime", run: () => 1 });
 * console.assert(cmd.name === "up");
 * ```
 */
export function validateCommand(value: unknown): Command {
  if (!value || typeof value !== "object") {
    throw new TypeError(`A command must be an object, got ${describe(value)}`);
  }
  const c = value as Partial<Command>;
  if (typeof c.name !== "string" || !NAME_RE.test(c.name)) {
    throw new TypeError(
      `Command name ${
        JSON.stringify(c.name)
      } is invalid: use 1-64 of a-z 0-9 . _ : - starting with a letter or digit`,
    );
  }
  const where = `command "${c.name}"`;
  if (typeof c.summary !== "string") throw new TypeError(`${where} needs a summary string`);
  if (typeof c.run !== "function") throw new TypeError(`${where} needs a run(ctx) function`);
  if (c.access !== undefined && !ACCESS_LEVELS.includes(c.access)) {
    throw new TypeError(`${where}: access must be one of ${ACCESS_LEVELS.join(", ")}`);
  }
  if (c.input !== undefined && typeof c.input !== "boolean") {
    throw new TypeError(`${where}: input must be a boolean`);
  }
  if (c.timeout !== undefined && !(typeof c.timeout === "number" && c.timeout >= 0)) {
    throw new TypeError(`${where}: timeout must be a number of ms >= 0`);
  }
  if (c.args !== undefined) {
    if (!Array.isArray(c.args)) throw new TypeError(`${where}: args must be an array`);
    c.args.forEach((a, i) => {
      if (!a || typeof a.name !== "string") throw new TypeError(`${where}: args[${i}] needs a name`);
      if (a.variadic && i !== c.args!.length - 1) {
        throw new TypeError(`${where}: only the last argument may be variadic`);
      }
    });
  }
  if (c.flags !== undefined) {
    if (typeof c.flags !== "object" || c.flags === null) {
      throw new TypeError(`${where}: flags must be an object`);
    }
    for (const [name, spec] of Object.entries(c.flags)) {
      if (!FLAG_RE.test(name)) throw new TypeError(`${where}: flag name "${name}" is invalid`);
      if (!spec || !["boolean", "string", "number"].includes(spec.type)) {
        throw new TypeError(`${where}: flag "${name}" needs type boolean, string or number`);
      }
      if (spec.short !== undefined && !/^[a-zA-Z]$/.test(spec.short)) {
        throw new TypeError(`${where}: flag "${name}" short must be one letter`);
      }
    }
  }
  return c as Command;
}

/** What a command that declares no `args` takes: any words, as they are. */
const RAW_WORDS: ArgSpec[] = [{ name: "words", variadic: true, description: "Passed as they are" }];

/** Describes a command for `help` and introspection. */
export function commandInfo(cmd: Command, source: string): CommandInfo {
  return {
    name: cmd.name,
    summary: cmd.summary,
    description: cmd.description,
    usage: usageLine(cmd),
    access: cmd.access ?? "operate",
    args: cmd.args ?? RAW_WORDS,
    flags: cmd.flags ?? {},
    timeout: cmd.timeout,
    persistent: cmd.persistent ?? false,
    input: cmd.input ?? false,
    source,
  };
}

/** The one-line usage of a command, e.g. `tail [--lines N] FILE`. */
export function usageLine(cmd: Pick<Command, "name" | "args" | "flags">): string {
  const parts = [cmd.name];
  for (const [name, spec] of Object.entries(cmd.flags ?? {})) {
    const value = spec.type === "boolean" ? "" : ` ${spec.type === "number" ? "N" : "VALUE"}`;
    parts.push(`[--${name}${value}]`);
  }
  for (const a of cmd.args ?? RAW_WORDS) {
    const word = a.name.toUpperCase() + (a.variadic ? "..." : "");
    parts.push(a.optional || a.variadic ? `[${word}]` : word);
  }
  return parts.join(" ");
}
/** A short name for what a value is, for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}
