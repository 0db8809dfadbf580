/**
 * The calls of one session that did not finish at once, by id: listed for
 * `connections`, waited for, cancelled, and drained on shutdown.
 *
 * @module
 */
import type { CallId, Request } from "./dialects/dialect.ts";
import { SockdError, Status } from "./errors.ts";
import type { RunningCall } from "./running_call.ts";
import type { InputQueue } from "./_input_queue.ts";

/** How long shutdown waits for cancelled calls whose answers the client does not read, before closing. */
const STUCK_WRITE_GRACE_MS = 1000;

/** One running call of a session. */
export interface CallState {
  call: RunningCall;
  command: string;
  /** performance.now() when it started. */
  started: number;
  input?: InputQueue;
  done: Promise<void>;
  /** The request that started it (what re-runs it after its connection moves). */
  req: Extract<Request, { type: "call" }>;
  /** Set when its connection moves to a successor process: it stops here without an answer. */
  moved?: boolean;
}

/** A session's running calls, by id. */
export class CallTable extends Map<CallId, CallState> {
  /** The calls running now: command and milliseconds so far. */
  running(): { command: string; ms: number }[] {
    const now = performance.now();
    return [...this.values()].map((c) => ({ command: c.command, ms: Math.round(now - c.started) }));
  }

  /** Resolves once every call running now has ended. */
  allDone(): Promise<unknown> {
    if (this.size === 0) return Promise.resolve();
    return Promise.allSettled([...this.values()].map((c) => c.done));
  }

  /** Aborts every running call with `reason`. */
  cancelAll(reason: SockdError): void {
    for (const state of this.values()) state.call.abort(reason);
  }

  /**
   * Lets the calls finish for up to `drainMs`, then cancels the rest with
   * CANCELLED (106); calls that still wait on a client not reading their
   * answers get a grace period, then `close` closes the socket under them.
   */
  async drain(drainMs: number, close: () => void): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.allDone(), new Promise((r) => timer = setTimeout(r, drainMs))]);
    clearTimeout(timer);
    this.cancelAll(new SockdError(Status.CANCELLED, "Server is shutting down"));
    // A cancelled call may still wait for a client that does not read its answers: after a
    // grace period the socket is closed under it, which fails the pending write and ends it.
    const done = this.allDone();
    const settled = await Promise.race([
      done.then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), STUCK_WRITE_GRACE_MS)),
    ]);
    clearTimeout(timer);
    if (!settled) {
      try {
        close();
      } catch { /* already closed */ }
      await done;
    }
  }
}
