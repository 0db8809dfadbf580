/**
 * Bounds, deadlines and restart policy of plugin host processes.
 *
 * @module
 */

/** Bounds, deadlines and restart policy of plugin host processes. */
export interface SandboxOptions {
  /**
   * Time a call has to stop after its deadline or cancel before its host is
   * killed (SIGKILL) and restarted, in ms.
   * @default {2000}
   */
  graceMs: number;
  /**
   * Time a plugin file has to load in a new host, in ms.
   * @default {10000}
   */
  loadTimeoutMs: number;
  /**
   * Chunks a host may send ahead of the client reading them, per call.
   * @default {16}
   */
  chunkCredit: number;
  /**
   * Keys one plugin's state may hold.
   * @default {10000}
   */
  maxStateEntries: number;
  /**
   * Bytes (msgpack-encoded keys and values) one plugin's state may hold in
   * the server; a host that sends more is stopped.
   * @default {16777216}
   */
  maxStateBytes: number;
  /**
   * Log lines (its log calls and what it writes to stderr) a plugin may
   * produce per second; the rest are counted and dropped.
   * @default {200}
   */
  logsPerSecond: number;
  /**
   * Heap cap of a plugin's isolate, in MiB, unless its `sockd.json` entry
   * sets `"memory"`. The host's resident memory may exceed it by
   * `memorySlackMiB` (the runtime, buffers outside the heap) before the
   * host ends itself.
   * @default {256}
   */
  memoryMiB: number;
  /**
   * Resident memory a host may use beyond its heap cap, in MiB.
   * @default {128}
   */
  memorySlackMiB: number;
  /**
   * How often the server asks each host for its resident memory (shown by
   * `plugins`), in ms. The host enforces its cap itself, every 100 ms, from
   * a thread the plugin does not run on.
   * @default {2000}
   */
  memoryCheckMs: number;
  /**
   * Time a host may go without answering the server's pings, while no call
   * with a deadline runs in it, before it is killed: its plugin is spinning
   * where no deadline reaches (between calls, or in a persistent call), in ms.
   * @default {8000}
   */
  unresponsiveMs: number;
  /**
   * Failures (crash, kill, memory cap, broken protocol) within
   * `failureWindowMs` after which a plugin is disabled until it changes or
   * is reloaded.
   * @default {3}
   */
  maxFailures: number;
  /**
   * The window `maxFailures` counts in, in ms.
   * @default {60000}
   */
  failureWindowMs: number;
  /**
   * First wait before restarting a failed host, in ms; it doubles with each
   * failure in the window.
   * @default {100}
   */
  restartBackoffMs: number;
  /**
   * Longest wait before restarting a failed host, in ms.
   * @default {5000}
   */
  restartBackoffMaxMs: number;
  /**
   * Bytes queued for a host that is not reading them before it is killed.
   * @default {67108864}
   */
  maxPendingBytes: number;
  /**
   * Time a plugin's host may stay without calls before it is stopped, in
   * ms, unless its `sockd.json` entry sets `"idle"`. A host starts on its
   * plugin's first call (and when it loads, only long enough to report its
   * commands); the server keeps the commands, so `help`, completion and
   * access checks need no host. `0` keeps every host running from load on.
   * @default {60000}
   */
  idleMs: number;
}

/** The defaults of {@linkcode SandboxOptions}. */
export const DEFAULT_SANDBOX_OPTIONS: Readonly<SandboxOptions> = Object.freeze({
  graceMs: 2000,
  loadTimeoutMs: 10_000,
  chunkCredit: 16,
  maxStateEntries: 10_000,
  maxStateBytes: 16 * 1024 * 1024,
  logsPerSecond: 200,
  memoryMiB: 256,
  memorySlackMiB: 128,
  memoryCheckMs: 2000,
  unresponsiveMs: 8_000,
  maxFailures: 3,
  failureWindowMs: 60_000,
  restartBackoffMs: 100,
  restartBackoffMaxMs: 5_000,
  maxPendingBytes: 64 * 1024 * 1024,
  idleMs: 60_000,
});
