/**
 * One plugin file as the {@linkcode PluginManager} (lib/plugins/manager.ts)
 * keeps it: its record, the versions it loaded into runners (a host process
 * or inline), how a version loads, and what the `plugins` built-in shows of it.
 *
 * @module
 */
import type { Command, PluginGrants, PluginStatus } from "../command.ts";
import type { Logger } from "../log.ts";
import { InlinePlugin } from "../runner/inline.ts";
import type { SandboxOptions } from "../runner/host_options.ts";
import { PluginHost } from "../runner/plugin_host.ts";
import type { PluginState } from "../runner/state.ts";
import type { ViewSnapshot } from "../runner/host_protocol.ts";
import type { DirConfig } from "./config.ts";
import { loadPluginFile } from "./loader.ts";

/** One loaded version of a plugin file. */
export interface Version {
  number: number;
  runner: PluginHost | InlinePlugin;
  commands: Command[];
  fingerprint: string;
  loadedAt: Date;
}

/** A plugin file: its serving version, the older ones still finishing calls, and its last failure. */
export interface PluginRecord {
  file: string;
  dirIndex: number;
  state: PluginState;
  current?: Version;
  loads: number;
  error?: string;
  failedFingerprint?: string;
  grants: PluginGrants;
  config: DirConfig | undefined;
  warnings: string[];
  retiring: Set<Version>;
}

/** What loading a version needs besides the record. */
export interface LoadVersionOptions {
  grants: PluginGrants;
  config: DirConfig;
  fingerprint: string;
  /** SHA-256 (hex) of the plugin file's content as read for this version. */
  sha256: string;
  /** Called when a host of this version cannot start: the file changed (a reload is due). */
  onStale?: () => void;
  /** What a plugin in a host process sees of the server. */
  view: () => ViewSnapshot;
  logger: Logger;
  sandbox: SandboxOptions;
}

/** Loads the next version of a plugin file: inline, or in a new host process with its grants. */
export async function loadVersion(rec: PluginRecord, options: LoadVersionOptions): Promise<Version> {
  const { grants, config, fingerprint } = options;
  let runner: PluginHost | InlinePlugin;
  let commands: Command[];
  if (grants.sandbox === "inline") {
    commands = await loadPluginFile(rec.file);
    runner = new InlinePlugin(commands);
  } else {
    const old = rec.current?.runner;
    const host = await PluginHost.load({
      file: rec.file,
      grants,
      sha256: options.sha256,
      ...(options.onStale ? { onStale: options.onStale } : {}),
      configFile: config.file,
      state: rec.state,
      view: options.view,
      logger: options.logger,
      options: options.sandbox,
    }, { keep: old instanceof PluginHost && old.host !== "stopped" });
    runner = host;
    commands = host.toCommands();
  }
  return { number: ++rec.loads, runner, commands, fingerprint, loadedAt: new Date() };
}

/** A plugin directory or grants file that failed, as the `plugins` built-in shows it. */
export function dirErrorStatus(file: string, error: string): PluginStatus {
  return {
    file,
    state: "failed",
    version: 0,
    commands: [],
    error,
    warnings: [],
    grants: {},
    runner: "process",
    restarts: 0,
    calls: 0,
    retiring: 0,
  };
}

/** A plugin file, as the `plugins` built-in shows it; forgets retiring versions that have finished. */
export function recordStatus(rec: PluginRecord): PluginStatus {
  for (const old of rec.retiring) if (finished(old.runner)) rec.retiring.delete(old);
  const v = rec.current;
  const host = v?.runner instanceof PluginHost ? v.runner : undefined;
  const disabled = host?.disabled;
  const status: PluginStatus = {
    file: rec.file,
    state: disabled ? "disabled" : rec.error !== undefined ? "failed" : "loaded",
    version: v?.number ?? 0,
    commands: v ? v.commands.map((c) => c.name) : [],
    warnings: [...rec.warnings],
    grants: structuredClone(rec.grants),
    runner: rec.grants.sandbox === "inline" ? "inline" : "process",
    restarts: host?.restarts ?? 0,
    calls: v?.runner.calls ?? 0,
    retiring: rec.retiring.size,
  };
  if (v) status.runner = v.runner.kind;
  const error = disabled ?? rec.error;
  if (error !== undefined) status.error = error;
  if (rec.config?.exists) status.config = rec.config.file;
  if (v) status.loadedAt = v.loadedAt.toISOString();
  if (host?.memoryBytes !== undefined) status.memoryBytes = host.memoryBytes;
  if (host?.pid !== undefined) status.pid = host.pid;
  if (host) status.host = host.host;
  return status;
}

/** Whether a version has no calls left (a host: it has also exited). */
export function finished(runner: PluginHost | InlinePlugin): boolean {
  return runner instanceof PluginHost ? runner.finished : runner.calls === 0;
}

/** Whether a version's host was disabled for failing too often. */
export function disabled(runner: PluginHost | InlinePlugin): boolean {
  return runner instanceof PluginHost && runner.disabled !== undefined;
}

/** Ends a version: kills its host (calls in flight end with 106), or retires an inline one. */
export function closeRunner(runner: PluginHost | InlinePlugin) {
  if (runner instanceof PluginHost) runner.close();
  else runner.retire();
}
