/**
 * The supervisor: the processes of a configuration, kept in step with it.
 * Loading (at start, on SIGHUP, on `reload`) adds, changes and removes
 * processes and leaves unchanged ones alone, same pid. It is what the `ps`,
 * `start`, `stop`, `restart`, `signal`, `logs` and `events` built-ins drive.
 *
 * @module
 */
import { suggest } from "../_suggest.ts";
import { SockdError, Status } from "../errors.ts";
import { type Logger, silentLogger } from "../log.ts";
import {
  loadSuperviseConfig,
  parseSuperviseConfig,
  type ProcessSpec,
  SIGNALS,
  type SuperviseConfig,
} from "./config.ts";
import { EventBus } from "./event_bus.ts";
import { sessionRss, TOOLS } from "./_process_group.ts";
import { SupervisedProcess } from "./supervised_process.ts";
import type { ProcessEvent, ProcessInfo, SuperviseReport, SupervisorView } from "./types.ts";

/** Options of {@linkcode Supervisor}. */
export interface SupervisorOptions {
  /** Where state changes and reloads are logged. @default silent */
  logger?: Logger;
  /** State changes kept for `events --replay`. @default {100} */
  history?: number;
}

/**
 * Processes kept running from a configuration file (or object).
 *
 * @example
 * ```ts
 * import { Supervisor } from "./supervisor.ts";
 * const sup = new Supervisor({
 *   processes: { hi: { command: "sh", args: ["-c", "echo hi; sleep 30"], minUptimeMs: 0 } },
 * });
 * await sup.load();
 * console.assert((await sup.info("hi")).state === "running");
 * await sup.stop("hi");
 * console.assert((await sup.info("hi")).state === "stopped");
 * await sup.close();
 * ```
 */
export class Supervisor implements SupervisorView {
  #source: string | unknown;
  #logger: Logger;
  #procs = new Map<string, SupervisedProcess>();
  #bus = new EventBus<ProcessEvent>();
  #history: ProcessEvent[] = [];
  #historyMax: number;
  #onShutdown: SuperviseConfig["onShutdown"] = "stop";
  #loading: Promise<SuperviseReport> | undefined;
  #closed = false;

  /** `source`: a config file path, or the parsed configuration. */
  constructor(source: string | unknown, options: SupervisorOptions = {}) {
    this.#source = source;
    this.#logger = options.logger ?? silentLogger;
    this.#historyMax = options.history ?? 100;
  }

  /** The config file, when it came from one. */
  get file(): string | undefined {
    return typeof this.#source === "string" ? this.#source : undefined;
  }

  /**
   * Reads the configuration and applies it: starts added processes (unless
   * `autostart` is false), stops removed ones, restarts changed ones, leaves
   * the rest alone. An invalid file changes nothing and throws.
   */
  load(): Promise<SuperviseReport> {
    if (this.#closed) return Promise.reject(new SockdError(Status.BUSY, "The supervisor is shut down"));
    // One at a time: a SIGHUP during a reload waits for it, then reads the file again.
    const run = (this.#loading ?? Promise.resolve()).catch(() => {}).then(() => this.#load());
    this.#loading = run;
    return run;
  }

  async #load(): Promise<SuperviseReport> {
    const config = typeof this.#source === "string"
      ? await loadSuperviseConfig(this.#source)
      : parseSuperviseConfig(this.#source, "supervise config");
    const report: SuperviseReport = { added: [], changed: [], removed: [], unchanged: [] };
    const next = new Map(config.processes.map((s) => [s.name, s]));
    const fresh: ProcessSpec[] = [];
    for (const spec of config.processes) {
      const old = this.#procs.get(spec.name);
      if (!old) report.added.push(spec.name), fresh.push(spec);
      else if (sameSpec(old.spec, spec)) report.unchanged.push(spec.name);
      else report.changed.push(spec.name), fresh.push(spec);
    }
    await checkRunPermission(fresh);
    this.#onShutdown = config.onShutdown;
    const going = [...this.#procs].filter(([name]) => !next.has(name) || report.changed.includes(name));
    report.removed = going.map(([name]) => name).filter((name) => !next.has(name));
    await Promise.all(going.map(([, proc]) => proc.stop()));
    for (const [name, proc] of going) {
      proc.close();
      this.#procs.delete(name);
    }
    // Rebuilt in the file's order, the unchanged keeping their running process.
    const procs = new Map<string, SupervisedProcess>();
    const starts: Promise<void>[] = [];
    for (const spec of config.processes) {
      let proc = this.#procs.get(spec.name);
      if (!proc) {
        proc = new SupervisedProcess(spec, { onEvent: (e) => this.#event(e) });
        if (spec.autostart) starts.push(proc.start());
      }
      procs.set(spec.name, proc);
    }
    this.#procs = procs;
    await Promise.all(starts);
    this.#logger.info("Supervisor loaded", {
      added: report.added.length,
      changed: report.changed.length,
      removed: report.removed.length,
      unchanged: report.unchanged.length,
    });
    return report;
  }

  async list(): Promise<ProcessInfo[]> {
    const infos = [...this.#procs.values()].map((p) => p.info());
    const rss = await sessionRss(infos.flatMap((i) => i.pid === undefined ? [] : [i.pid]));
    for (const i of infos) if (i.pid !== undefined && rss.has(i.pid)) i.rssBytes = rss.get(i.pid);
    return infos;
  }

  async info(name: string): Promise<ProcessInfo> {
    const info = this.#get(name).info();
    if (info.pid !== undefined) {
      const rss = (await sessionRss([info.pid])).get(info.pid);
      if (rss !== undefined) info.rssBytes = rss;
    }
    return info;
  }

  async start(name: string): Promise<ProcessInfo> {
    const p = this.#get(name);
    this.#open();
    await p.start();
    return p.info();
  }

  async stop(name: string): Promise<ProcessInfo> {
    const p = this.#get(name);
    await p.stop();
    return p.info();
  }

  async restart(name: string): Promise<ProcessInfo> {
    const p = this.#get(name);
    this.#open();
    await p.stop();
    this.#open();
    await p.start();
    return p.info();
  }

  async signal(name: string, signal: string, options: { group?: boolean } = {}): Promise<void> {
    const sig = signal.toUpperCase().replace(/^(?!SIG)/, "SIG");
    if (!SIGNALS.has(sig)) {
      throw new SockdError(
        Status.BAD_ARGS,
        `Unknown signal "${signal}" (use a name such as TERM, HUP, USR1)`,
      );
    }
    const p = this.#get(name);
    try {
      await p.signal(sig as Deno.Signal, options.group === true);
    } catch (err) {
      throw new SockdError(Status.HANDLER_ERROR, (err as Error).message);
    }
  }

  tail(name: string, lines: number, stream: "stdout" | "stderr" = "stdout"): string {
    return this.#get(name)[stream].tail(lines);
  }

  follow(name: string, signal: AbortSignal, stream: "stdout" | "stderr" = "stdout"): AsyncIterable<string> {
    // Subscribed now, not on the first read: a caller that reads the tail next loses nothing.
    const sub = this.#get(name)[stream].follow(signal);
    return (async function* () {
      const decoder = new TextDecoder();
      for await (const d of sub) {
        if ("item" in d) yield decoder.decode(d.item, { stream: true });
        else yield `[sockd: ${d.dropped} chunks dropped: the reader fell behind]\n`;
      }
    })();
  }

  events(signal: AbortSignal, options: { name?: string; replay?: number } = {}): AsyncIterable<ProcessEvent> {
    const { name } = options;
    if (name !== undefined) this.#get(name);
    const sub = this.#bus.subscribe({ signal, max: 1000 });
    const replay = options.replay ?? 0;
    const past = replay > 0
      ? this.#history.filter((e) => name === undefined || e.name === name).slice(-replay)
      : [];
    const logger = this.#logger;
    return (async function* () {
      yield* past;
      for await (const d of sub) {
        if ("dropped" in d) {
          logger.warn("Events dropped for a slow reader", { dropped: d.dropped });
          continue;
        }
        if (name === undefined || d.item.name === name) yield d.item;
      }
    })();
  }

  /**
   * Ends every `logs -f` and `events` stream, as a server does when it
   * starts to shut down: followers would otherwise hold its drain open.
   */
  endStreams(): void {
    for (const p of this.#procs.values()) p.close();
    this.#bus.close();
  }

  /**
   * Ends supervision: stops every process (`onShutdown: "stop"`, the
   * default) or leaves them running unwatched (`"leave"`).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#loading?.catch(() => {});
    const procs = [...this.#procs.values()];
    if (this.#onShutdown === "leave") {
      const left = procs.filter((p) => p.pid !== undefined).map((p) => `${p.spec.name}:${p.pid}`);
      for (const p of procs) p.abandon();
      this.#logger.info("Supervisor closed; children left running", { children: left.join(",") });
    } else {
      await Promise.all(procs.map((p) => p.stop()));
      for (const p of procs) p.close();
      this.#logger.info("Supervisor closed; children stopped", { children: procs.length });
    }
    this.#bus.close();
  }

  #open() {
    if (this.#closed) {
      throw new SockdError(Status.BUSY, "The server is shutting down: processes are not started");
    }
  }

  #get(name: string): SupervisedProcess {
    const p = this.#procs.get(name);
    if (p) return p;
    const hint = suggest(name, this.#procs.keys());
    throw new SockdError(
      Status.BAD_ARGS,
      `Unknown process "${name}"` + (hint ? ` (did you mean "${hint}"?)` : ` (see ps)`),
    );
  }

  #event(e: ProcessEvent) {
    this.#history.push(e);
    if (this.#history.length > this.#historyMax) this.#history.shift();
    const fields: Record<string, string | number> = { process: e.name, from: e.from, to: e.state };
    if (e.pid !== undefined) fields.pid = e.pid;
    if (e.exitCode !== undefined) fields.exitCode = e.exitCode;
    if (e.exitSignal !== undefined) fields.exitSignal = e.exitSignal;
    if (e.delayMs !== undefined) fields.delayMs = e.delayMs;
    if (e.error !== undefined) fields.error = e.error;
    if (e.state === "fatal" || e.state === "backoff") this.#logger.warn("Process state", fields);
    else this.#logger.info("Process state", fields);
    this.#bus.publish(e);
  }
}

function sameSpec(a: ProcessSpec, b: ProcessSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Refuses a configuration naming programs this process may not run, with
 * the flag that would allow them, before anything is stopped or started.
 */
async function checkRunPermission(specs: ProcessSpec[]): Promise<void> {
  if (specs.length === 0) return;
  const wanted = [...new Set([...TOOLS, ...specs.map((s) => s.command)])];
  const denied: string[] = [];
  for (const command of wanted) {
    const { state } = await Deno.permissions.query({ name: "run", command });
    if (state !== "granted") denied.push(command);
  }
  if (denied.length === 0) return;
  throw new SockdError(
    Status.HANDLER_ERROR,
    `This sockd may not run ${denied.map((c) => JSON.stringify(c)).join(", ")}: start it with ` +
      `--allow-run=/proc/self/exe,${wanted.join(",")} (see "Supervise a program" in the README)`,
  );
}
