/**
 * What the server keeps of one running plugin host: its process, the calls
 * running in it, and whether it still answers.
 *
 * @module
 */
import { SockdError, Status } from "../errors.ts";
import type { HostLog } from "./host_log.ts";
import type { HostProcess } from "./host_process.ts";
import type { FromHost, WireError } from "./host_protocol.ts";
import type { RemoteCall } from "./remote_call.ts";

/** Where {@linkcode LiveHost.route} sends what it routes. */
export interface Routes {
  /** The plugin file's name, for messages. */
  name: string;
  chunkCredit: number;
  log: HostLog;
  /** The error a call ended with, as its client gets it. */
  error: (err: WireError) => SockdError;
  /** The host wants the call's next input chunk. */
  pull: (call: RemoteCall) => void;
}

/** One live host process and the calls running in it. */
export class LiveHost {
  readonly calls = new Map<number, RemoteCall>();
  proc!: HostProcess;
  dead: SockdError | undefined;
  /** Killed on purpose (reload, shutdown): not a failure. */
  expected = false;
  rss: number | undefined;
  memoryMiB = 0;
  /** When the host last answered a ping (ms since the epoch). */
  lastPong = 0;
  unsubscribe: () => void = () => {};
  timer: ReturnType<typeof setInterval> | undefined;
  #nextId = 1;

  nextId(): number {
    return this.#nextId++;
  }

  /**
   * Hands a message about a call (a chunk, its end, a request for input, a
   * log line) or a pong to where it goes; false when `msg` is none of these.
   */
  route(msg: FromHost, to: Routes): boolean {
    switch (msg.t) {
      case "chunk": {
        const call = this.calls.get(msg.id);
        if (!call || call.isSettled) return true;
        if (call.queued >= to.chunkCredit * 2) {
          this.calls.delete(msg.id);
          call.finish({
            ok: false,
            error: new SockdError(Status.HANDLER_ERROR, `Plugin ${to.name} ignored backpressure`),
          });
          return true;
        }
        call.push(msg.chunk);
        return true;
      }
      case "end": {
        const call = this.calls.get(msg.id);
        if (!call) return true;
        this.calls.delete(msg.id);
        call.finish(msg.ok ? { ok: true, result: msg.result } : { ok: false, error: to.error(msg.error) });
        return true;
      }
      case "pull": {
        const call = this.calls.get(msg.id);
        if (call) to.pull(call);
        return true;
      }
      case "log": {
        const call = msg.id === undefined ? undefined : this.calls.get(msg.id);
        to.log.line(msg.level, msg.msg, msg.fields, call?.ctx.log);
        return true;
      }
      case "pong":
        this.lastPong = Date.now();
        this.rss = msg.rss;
        return true;
      default:
        return false;
    }
  }

  /**
   * Pings the host now and then: its answer (setting `lastPong`) carries its
   * memory (it keeps its own cap: see host_main.ts), and a host that has not
   * answered for `unresponsiveMs` while no call with a deadline runs in it
   * (only calls of `persistent` commands, or none) is spinning where no
   * deadline reaches: `silent` is called. A call with a deadline may keep its
   * host busy until deadline + grace: that rule stops it.
   */
  heartbeat(o: {
    send: (msg: { t: "ping"; n: number }) => void;
    memoryCheckMs: number;
    unresponsiveMs: number;
    persistent: ReadonlySet<string>;
    silent: (ms: number) => void;
  }): void {
    let n = 0;
    const limitMs = o.unresponsiveMs;
    const excused = () => [...this.calls.values()].some((c) => !o.persistent.has(c.command));
    this.lastPong = Date.now();
    o.send({ t: "ping", n: ++n });
    this.timer = setInterval(() => {
      const quiet = Date.now() - this.lastPong;
      if (quiet > limitMs && !excused()) return o.silent(quiet);
      o.send({ t: "ping", n: ++n });
    }, Math.min(o.memoryCheckMs, Math.max(100, o.unresponsiveMs / 3)));
  }
}
