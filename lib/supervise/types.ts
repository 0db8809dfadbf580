/**
 * What the supervisor shows of itself: the shapes `ps`, `events` and
 * `reload` answer with, and the view the built-in commands use.
 *
 * @module
 */
import type { ServerView } from "../command.ts";

/** The states of a supervised process. */
export const PROCESS_STATES = [
  "starting",
  "running",
  "backoff",
  "stopping",
  "stopped",
  "exited",
  "fatal",
] as const;
/**
 * One of {@linkcode PROCESS_STATES}: `starting` until it has run `minUptimeMs`,
 * `backoff` while it waits to be started again, `exited` when it ended and
 * its restart policy says to leave it, `fatal` after too many failed starts.
 */
export type ProcessState = typeof PROCESS_STATES[number];

/** One process, as `ps` shows it. */
export interface ProcessInfo {
  name: string;
  state: ProcessState;
  /** The child's pid (also its process group and session), while it runs. */
  pid?: number;
  /** Milliseconds since it was started, while it runs. */
  uptimeMs?: number;
  /** Times it was started again by its restart policy. */
  restarts: number;
  /** Exit code of its last run, when it exited by itself. */
  exitCode?: number;
  /** Signal that ended its last run. */
  exitSignal?: string;
  /** Why it could not be started, or why it is fatal. */
  error?: string;
  /** Resident memory of its process group, in bytes (`ps` only). */
  rssBytes?: number;
  /** The program and its arguments. */
  command: string[];
  /** When it entered its state (ISO 8601). */
  since: string;
}

/** A state change, as `events` streams it. */
export interface ProcessEvent {
  /** When (ISO 8601). */
  time: string;
  name: string;
  from: ProcessState;
  state: ProcessState;
  pid?: number;
  exitCode?: number;
  exitSignal?: string;
  /** The wait before the next start, in `backoff`. */
  delayMs?: number;
  restarts: number;
  error?: string;
}

/** What re-reading the configuration did (as `reload` reports it). */
export type SuperviseReport = NonNullable<import("../command.ts").ReloadReport["processes"]>;

/**
 * The server view the built-ins of a supervising server get. Kept out of
 * the plugin-facing {@linkcode ServerView} (which `sockd init` copies next to
 * plugins): a plugin in its host process never sees the supervisor.
 */
export interface SupervisingServerView extends ServerView {
  processes?: SupervisorView;
}

/** What the supervisor built-ins may do (`SupervisingServerView.processes`). */
export interface SupervisorView {
  /** Every process, in configuration order, with its memory. */
  list(): Promise<ProcessInfo[]>;
  /** One process (throws BAD_ARGS for an unknown name). */
  info(name: string): Promise<ProcessInfo>;
  /** Starts it (a no-op when it runs); resolves once it has been spawned. */
  start(name: string): Promise<ProcessInfo>;
  /** Stops it; resolves once no process of its group is left. */
  stop(name: string): Promise<ProcessInfo>;
  /** Stops it, then starts it. */
  restart(name: string): Promise<ProcessInfo>;
  /** Sends a signal to its main process, or with `group` to its whole process group. */
  signal(name: string, signal: string, options?: { group?: boolean }): Promise<void>;
  /** The last `lines` lines of its stdout (or stderr). */
  tail(name: string, lines: number, stream?: "stdout" | "stderr"): string;
  /** Its output from now on, as text, until `signal` aborts or the process is removed. */
  follow(name: string, signal: AbortSignal, stream?: "stdout" | "stderr"): AsyncIterable<string>;
  /** State changes from now on (after the last `replay` ones), of one process or all. */
  events(signal: AbortSignal, options?: { name?: string; replay?: number }): AsyncIterable<ProcessEvent>;
}
