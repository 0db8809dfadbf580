/**
 * The command model: what a plugin file exports and what `run` receives.
 *
 * A plugin imports only types from this module, so it loads anywhere (in its
 * host process, in the compiled binary) without resolving sockd itself. It
 * imports nothing but `./log.ts` and `./server_view.ts` (which import nothing
 * else either): `sockd init` copies the three into a plugin directory.
 * Checking a command (`validateCommand`, lib/validate_command.ts) and describing one
 * (`commandInfo`, lib/command_info.ts) live in their own modules.
 *
 * @module
 */
import type { Logger } from "./log.ts";
import type { ServerView } from "./server_view.ts";

export type {
  CommandInfo,
  ConnectionInfo,
  ListenerInfo,
  PluginStatus,
  ReloadReport,
  ServerStatus,
  ServerView,
  StatsSnapshot,
} from "./server_view.ts";

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
   * Seconds its host may stay without calls before it is stopped (it starts
   * again on the next call); `0` keeps it running. @default {60}
   */
  idle?: number;
  /**
   * Where the plugin runs: `"process"`, its own host process with only its
   * grants; or `"inline"`, in the server itself with all of the server's
   * permissions (trusted, hot code only). @default {"process"}
   */
  sandbox?: "process" | "inline";
}
