/**
 * What moves with a connection when the server hands it to a successor
 * process (`upgrade`): its dialect and that dialect's state, the bytes read
 * but not yet used, and the persistent calls it was following, which re-run
 * there after a marker chunk.
 *
 * @module
 */
import type { CallId, Dialect, Request } from "./dialects/dialect.ts";
import type { Transport } from "./transport.ts";

/** A call of a persistent command that moves with its connection, to run again in the successor. */
export interface FollowedCall {
  id: CallId;
  command: string;
  args: string[];
  timeoutMs?: number;
}

/** A connection's state at a clean boundary, as the successor resumes it (JSON, but for `pending`). */
export interface MovedConnection {
  /** Its dialect's name; undefined when the client had sent nothing yet. */
  dialect?: string;
  /** The dialect's own state (`Dialect.state()`: text's prompt mode). */
  state?: Record<string, unknown>;
  /** Bytes read but not yet decoded (a partial line or frame), to be decoded first. */
  pending: Uint8Array;
  /** The persistent calls it was following. */
  follow: FollowedCall[];
}

/** A connection taken out of its session: the transport (its socket) and what moves with it. */
export interface Handoff {
  transport: Transport;
  moved: MovedConnection;
}

/** The marker chunk a followed call sends first in the successor: `{"$upgraded": PID}`. */
export function upgradedMarker(pid: number): { $upgraded: number } {
  return { $upgraded: pid };
}

/** A session's move under way (see `Session.moveOut`): what moves, and the promise of the hand-off. */
export class MoveOut {
  readonly promise: Promise<Handoff | undefined>;
  /** The persistent calls that move with it. */
  readonly follow: FollowedCall[] = [];
  /** Set at the boundary: the decoder's bytes not yet used. */
  rest: Uint8Array | undefined;
  #resolve!: (h: Handoff | undefined) => void;

  constructor() {
    this.promise = new Promise((r) => this.#resolve = r);
  }

  /** Call `req` follows in the successor. */
  add(req: Extract<Request, { type: "call" }>): void {
    this.follow.push({
      id: req.id,
      command: req.command,
      args: req.args,
      ...(req.timeoutMs === undefined ? {} : { timeoutMs: req.timeoutMs }),
    });
  }

  /** At the boundary, nothing left to write: takes the socket out of `transport` and hands it over. */
  handOff(transport: Transport, dialect: Dialect | undefined): void {
    const queued = transport.detach!();
    const rest = this.rest ?? new Uint8Array(0);
    const pending = new Uint8Array(rest.length + queued.length);
    pending.set(rest);
    pending.set(queued, rest.length);
    this.#resolve({
      transport,
      moved: {
        ...(dialect ? { dialect: dialect.name, state: dialect.state?.() } : {}),
        pending,
        follow: this.follow,
      },
    });
  }

  /** The connection does not move (it ended, broke, or closes). */
  cancel(): void {
    this.#resolve(undefined);
  }
}
