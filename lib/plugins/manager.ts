/**
 * The plugin files of a server: loading them into their runners, reloading
 * what changed, keeping the old version serving when a new one fails, and
 * retiring old versions once their calls have finished. One file's record,
 * how a version loads and how it is shown: lib/plugins/_plugin_record.ts.
 *
 * @module
 */
import { basename, join, resolve } from "node:path";
import type { Command, PluginStatus, ReloadReport } from "../command.ts";
import type { Logger } from "../log.ts";
import type { Runner } from "../runner/runner.ts";
import type { SandboxOptions } from "../runner/host_options.ts";
import { PluginHost } from "../runner/plugin_host.ts";
import { contentDigest } from "../runner/host_main.ts";
import { PluginState } from "../runner/state.ts";
import type { StateOp } from "../runner/host_protocol.ts";
import type { ViewSnapshot } from "../runner/host_protocol.ts";
import { CONFIG_FILE, type DirConfig, readDirConfig } from "./config.ts";
import { listPluginFiles } from "./loader.ts";
import { digest, helperDigest } from "./_fingerprint.ts";
import {
  closeRunner,
  dirErrorStatus,
  disabled,
  finished,
  loadVersion,
  type PluginRecord,
  recordStatus,
  type Version,
} from "./_plugin_record.ts";
import { Slots } from "../_slots.ts";

/** A plugin command to register, with where it runs. */
export interface PluginCommand {
  command: Command;
  /** The plugin file (the command's `source`). */
  file: string;
  /** The plugin's state map (kept across reloads). */
  state: Map<string, unknown>;
  runner: Runner;
}

/** A command that was not registered, and why (a duplicate name). */
export interface SkippedCommand {
  file: string;
  error: string;
}

/** Options of {@linkcode PluginManager}. */
export interface PluginManagerOptions {
  logger: Logger;
  sandbox: SandboxOptions;
  /** What plugins in host processes see of the server. */
  view: () => ViewSnapshot;
  /**
   * Swaps the registry to the given plugin commands (plus the server's own),
   * atomically; returns the commands it skipped.
   */
  commit: (commands: PluginCommand[]) => { skipped: SkippedCommand[]; size: number };
  /** State to start each plugin file with, by file (what the process this one replaced held). */
  initialState?: ReadonlyMap<string, readonly [string, unknown][]>;
}

/** Loads and reloads the plugin files of some directories. */
export class PluginManager {
  #dirs: string[];
  #opts: PluginManagerOptions;
  #records = new Map<string, PluginRecord>();
  #dirErrors = new Map<string, string>();
  #tail: Promise<unknown> = Promise.resolve();
  #next: { all: boolean; promise: Promise<ReloadReport> } | undefined;
  #closed = false;
  /** Versions of removed files still finishing calls (closed with the rest on shutdown). */
  #orphans = new Set<Version>();

  /**
   * Follows the state changes of every plugin file in a host process (inline
   * plugins change the map directly): a successor process keeps up with them
   * while this process still serves. Returns the unsubscribe function.
   */
  followStates(listener: (file: string, op: StateOp) => void): () => void {
    const offs = [...this.#records].map(([file, rec]) => rec.state.subscribe((op) => listener(file, op)));
    return () => offs.forEach((off) => off());
  }

  /** Applies a change to a plugin file's state (made by the process this one replaces). */
  applyState(file: string, op: StateOp): void {
    this.#records.get(file)?.state.apply(op);
  }

  /** Every plugin file's state, by file: what a successor process starts with. */
  states(): Map<string, [string, unknown][]> {
    return new Map([...this.#records].map(([file, rec]) => [file, rec.state.snapshot()]));
  }

  constructor(dirs: readonly string[], options: PluginManagerOptions) {
    this.#dirs = dirs.map((d) => resolve(d));
    this.#opts = options;
  }

  /** The plugin directories, absolute. */
  get dirs(): readonly string[] {
    return this.#dirs;
  }

  /**
   * Loads what changed since the last load (every file when `all`), swaps
   * the registry once, then retires the replaced versions. Reloads run one
   * at a time; requests made while one runs share the next run.
   */
  reload(options: { all?: boolean } = {}): Promise<ReloadReport> {
    const all = options.all ?? false;
    if (this.#next) {
      this.#next.all ||= all;
      return this.#next.promise;
    }
    const next = { all, promise: undefined as unknown as Promise<ReloadReport> };
    next.promise = this.#tail.then(() => {
      this.#next = undefined;
      return this.#reload(next.all);
    });
    this.#next = next;
    this.#tail = next.promise.catch(() => {});
    return next.promise;
  }

  /** The commands of every serving version, in load order (directory, then file name). */
  commands(): PluginCommand[] {
    const out: PluginCommand[] = [];
    for (const rec of this.#sorted()) {
      const v = rec.current;
      if (!v) continue;
      for (const command of v.commands) {
        out.push({ command, file: rec.file, state: rec.state.map, runner: v.runner });
      }
    }
    return out;
  }

  /** What each plugin file (and each failed directory or config) is doing now. */
  status(): PluginStatus[] {
    const out: PluginStatus[] = [];
    for (const [file, error] of this.#dirErrors) out.push(dirErrorStatus(file, error));
    for (const rec of this.#sorted()) out.push(recordStatus(rec));
    return out;
  }

  /** Tells every live host that the server's commands changed. */
  updateViews(): void {
    for (const rec of this.#records.values()) {
      for (const v of [rec.current, ...rec.retiring]) {
        if (v?.runner instanceof PluginHost) v.runner.updateView();
      }
    }
  }

  /** Kills every plugin host; calls in flight end with 106. */
  close(): void {
    this.#closed = true;
    for (const v of this.#orphans) closeRunner(v.runner);
    this.#orphans.clear();
    for (const rec of this.#records.values()) {
      for (const v of [rec.current, ...rec.retiring]) {
        if (v) closeRunner(v.runner);
      }
    }
  }

  #sorted(): PluginRecord[] {
    return [...this.#records.values()].sort((a, b) =>
      a.dirIndex - b.dirIndex || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0)
    );
  }

  async #reload(all: boolean): Promise<ReloadReport> {
    const t0 = performance.now();
    const { logger } = this.#opts;
    const report: ReloadReport = {
      loaded: [],
      unchanged: [],
      failed: [],
      removed: [],
      commands: 0,
      durationMs: 0,
    };
    const seen = new Set<string>();
    const fresh: [PluginRecord, Version][] = [];
    // Files load side by side (a few at a time): one plugin that hangs in its load holds up no other.
    const loads: Promise<void>[] = [];
    const slots = new Slots(4);
    const dirErrors = new Map<string, string>();
    const keepDir = (dir: string) => {
      for (const rec of this.#records.values()) if (rec.file.startsWith(dir + "/")) seen.add(rec.file);
    };

    for (const [dirIndex, dir] of this.#dirs.entries()) {
      let files: string[];
      let config: DirConfig;
      try {
        files = await listPluginFiles(dir);
      } catch (err) {
        dirErrors.set(dir, `Cannot read plugin directory: ${(err as Error).message}`);
        keepDir(dir);
        continue;
      }
      try {
        config = await readDirConfig(dir);
      } catch (err) {
        dirErrors.set(join(dir, CONFIG_FILE), (err as Error).message);
        keepDir(dir);
        continue;
      }
      for (const name of config.plugins.keys()) {
        if (!files.some((f) => basename(f) === name)) {
          logger.warn("Grants name a plugin file that does not exist", { config: config.file, plugin: name });
        }
      }
      const helpers = await helperDigest(dir, files);
      for (const file of files) {
        if (seen.has(file)) continue;
        seen.add(file);
        let rec = this.#records.get(file);
        if (!rec) {
          const state = new PluginState();
          for (const [k, v] of this.#opts.initialState?.get(file) ?? []) state.map.set(k, v);
          rec = {
            file,
            dirIndex,
            state,
            loads: 0,
            grants: {},
            config,
            warnings: [],
            retiring: new Set(),
          };
          this.#records.set(file, rec);
        }
        rec.dirIndex = dirIndex;
        const grants = config.plugins.get(basename(file)) ?? {};
        let fingerprint: string;
        let sha256: string;
        try {
          const bytes = await Deno.readFile(file);
          fingerprint = await digest([bytes, JSON.stringify(grants), helpers]);
          sha256 = await contentDigest(bytes);
        } catch (err) {
          this.#failed(rec, report, `Cannot read: ${(err as Error).message}`, undefined);
          continue;
        }
        if (!all && rec.current?.fingerprint === fingerprint && !disabled(rec.current.runner)) {
          // Back to the content that serves (after a failed edit): the failure is over.
          if (rec.error !== undefined) {
            rec.error = undefined;
            rec.failedFingerprint = undefined;
            logger.info("Plugin back to the version that serves", { file, version: rec.current.number });
          }
          report.unchanged.push(file);
          continue;
        }
        if (!all && rec.error !== undefined && rec.failedFingerprint === fingerprint) {
          report.failed.push({ file, error: rec.error });
          continue;
        }
        // The grants as configured now, whether or not this version loads.
        rec.grants = grants;
        rec.config = config;
        const record = rec;
        loads.push(slots.run(async () => {
          try {
            const version = await loadVersion(record, {
              grants,
              config,
              fingerprint,
              sha256,
              // A stopped version whose file changed cannot start: reload now, watcher or not.
              onStale: () => {
                if (!this.#closed) this.reload().catch(() => {});
              },
              view: this.#opts.view,
              logger: this.#opts.logger,
              sandbox: this.#opts.sandbox,
            });
            if (this.#closed) return closeRunner(version.runner);
            fresh.push([record, version]);
          } catch (err) {
            this.#failed(record, report, (err as Error).message, fingerprint);
          }
        }));
      }
    }
    await Promise.all(loads);
    fresh.sort(([a], [b]) => a.dirIndex - b.dirIndex || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    report.failed.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));

    const retire: Version[] = [];
    for (const [file, rec] of this.#records) {
      if (seen.has(file)) continue;
      this.#records.delete(file);
      report.removed.push(file);
      for (const v of [rec.current, ...rec.retiring]) {
        if (v) this.#orphans.add(v);
      }
      if (rec.current) retire.push(rec.current);
      logger.info("Plugin removed", { file });
    }
    for (const [rec, version] of fresh) {
      if (rec.current) {
        retire.push(rec.current);
        rec.retiring.add(rec.current);
      }
      rec.current = version;
      rec.error = undefined;
      rec.failedFingerprint = undefined;
      report.loaded.push(rec.file);
      logger.info("Plugin loaded", {
        file: rec.file,
        version: version.number,
        runner: version.runner.kind,
        commands: version.commands.map((c) => c.name).join(","),
        ...(version.runner instanceof PluginHost ? { pid: version.runner.pid } : {}),
      });
    }
    this.#dirErrors = dirErrors;
    for (const [file, error] of dirErrors) {
      report.failed.push({ file, error });
      logger.error("Plugin directory failed to load", { file, error });
    }

    // The one atomic swap: new calls go to the new versions from here on.
    const { skipped, size } = this.#opts.commit(this.commands());
    for (const rec of this.#records.values()) {
      rec.warnings = skipped.filter((s) => s.file === rec.file).map((s) => s.error);
      for (const w of rec.warnings) logger.error("Plugin command skipped", { file: rec.file, error: w });
    }
    // Persistent streams restart on the new version; the rest finish on the old one.
    for (const v of retire) v.runner.retire();
    // A serving version whose file now fails to load keeps its host while it has one (a new host would
    // load the file as it is now).
    for (const rec of this.#records.values()) {
      if (rec.current?.runner instanceof PluginHost) rec.current.runner.pin(rec.error !== undefined);
    }
    for (const v of this.#orphans) if (finished(v.runner)) this.#orphans.delete(v);
    this.updateViews();

    report.commands = size;
    report.durationMs = Math.round((performance.now() - t0) * 10) / 10;
    return report;
  }

  #failed(rec: PluginRecord, report: ReloadReport, error: string, fingerprint: string | undefined) {
    rec.error = error;
    rec.failedFingerprint = fingerprint;
    report.failed.push({ file: rec.file, error });
    this.#opts.logger.error("Plugin failed to load", {
      file: rec.file,
      error,
      serving: rec.current ? `version ${rec.current.number}` : "none",
    });
  }
}
