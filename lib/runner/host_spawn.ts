/**
 * Starting a plugin host: the process (which checks the plugin's imports
 * itself), and the wait for its plugin to load; and what the server keeps of a host while it lives.
 *
 * @module
 */
import { basename } from "node:path";
import type { PluginGrants } from "../command.ts";
import { SockdError, Status } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { HostLog } from "./host_log.ts";
import { LiveHost } from "./live_host.ts";
import type { SandboxOptions } from "./host_options.ts";
import { HostProcess } from "./host_process.ts";
import { STALE_EXIT } from "./host_main.ts";
import type { CommandMeta, FromHost, ViewSnapshot } from "./host_protocol.ts";
import { loadMessage, PluginLoadError } from "./load_error.ts";
import type { PluginState, StateListener } from "./state.ts";

/** What a plugin host is built from. */
export interface PluginHostSpec {
  /** Absolute path of the plugin file. */
  file: string;
  /** What the operator granted it. */
  grants: PluginGrants;
  /** SHA-256 (hex) of the file as this version loaded it: a host refuses other content. */
  sha256?: string;
  /** A host could not start because the file changed since this version loaded: a reload is due. */
  onStale?: () => void;
  /** Where the grants come from (named in errors). */
  configFile: string;
  /** The plugin's state, kept across reloads by the caller. */
  state: PluginState;
  /** What the plugin sees of the server; read when a host starts. */
  view: () => ViewSnapshot;
  logger: Logger;
  options: SandboxOptions;
}

export { LiveHost } from "./live_host.ts";

/** What a running host tells the runner that owns it. */
export interface HostEvents {
  /** A validated message. */
  onMessage(live: LiveHost, msg: FromHost, listener: StateListener): void;
  /** The process exited by itself, and why. */
  onExit(live: LiveHost, why: SockdError): void;
}

/** Starts a host for `spec` and waits for its plugin to load. */
export async function spawnHost(
  spec: PluginHostSpec,
  log: HostLog,
  owner: () => HostEvents | undefined,
): Promise<{ live: LiveHost; commands: CommandMeta[] }> {
  const name = basename(spec.file);
  const { grants } = spec;
  if (Array.isArray(grants.run) && grants.run.some((p) => p.replace(/\/+$/, "") === "/proc/self/exe")) {
    // sockd's own executable, with sockd's whole permission set: never a plugin's.
    throw new PluginLoadError(
      `${spec.configFile} grants ${name} run "/proc/self/exe", which is sockd itself: never granted to a plugin`,
    );
  }
  const memoryMiB = grants.memory ?? spec.options.memoryMiB;
  const live = new LiveHost();
  const listener: StateListener = (op) => live.proc.send({ t: "state", op });
  let loading: { resolve: (c: CommandMeta[]) => void; reject: (e: Error) => void } | undefined;
  const output: string[] = [];
  const loaded = new Promise<CommandMeta[]>((resolve, reject) => loading = { resolve, reject });
  try {
    live.proc = new HostProcess({
      file: spec.file,
      grants,
      memoryMiB,
      rssLimitMiB: memoryMiB + spec.options.memorySlackMiB,
      maxMessageBytes: 17 * 1024 * 1024,
      // The host checks its imports itself before the plugin loads (see host_main.ts).
      checks: {
        ...(spec.sha256 === undefined ? {} : { sha256: spec.sha256 }),
        ...(grants.import === true
          ? {}
          : { imports: { allow: grants.import ?? [], configFile: spec.configFile } }),
      },
      onMessage: (msg) => {
        if (!loading) return owner()?.onMessage(live, msg, listener);
        if (msg.t === "loaded") loading.resolve(msg.commands);
        else if (msg.t === "load-error" || msg.t === "crash") {
          loading.reject(new PluginLoadError(loadMessage(msg.error, name, spec.configFile)));
        } else if (msg.t === "log") log.line(msg.level, msg.msg, msg.fields);
      },
      onOutput: (line) => {
        if (loading && output.length < 50) output.push(line);
        log.output(line);
      },
      onExit: (why, status) => {
        if (!loading) return owner()?.onExit(live, why);
        if (why.message.includes("ran out of memory")) {
          return loading.reject(new PluginLoadError(why.message));
        }
        const ours = output.filter((l) => l.startsWith("sockd-host: "));
        const said = (ours.length > 0 ? ours : output).map((l) => l.replace(/^sockd-host: /, "")).join("\n");
        loading.reject(
          new PluginLoadError(
            said ? loadMessage({ name: "Error", message: said }, name, spec.configFile) : why.message,
            { stale: status.code === STALE_EXIT },
          ),
        );
      },
    });
  } catch (err) {
    throw new PluginLoadError(`Cannot start a plugin host: ${(err as Error).message}`);
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const commands = await Promise.race([
      loaded,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new PluginLoadError(`Did not load within ${spec.options.loadTimeoutMs} ms`)),
          spec.options.loadTimeoutMs,
        );
      }),
    ]);
    loading = undefined;
    live.proc.send({
      t: "init",
      state: spec.state.snapshot(),
      view: spec.view(),
      maxStateEntries: spec.options.maxStateEntries,
      maxStateBytes: spec.options.maxStateBytes,
    });
    live.unsubscribe = spec.state.subscribe(listener);
    live.memoryMiB = memoryMiB;
    return { live, commands };
  } catch (err) {
    loading = undefined;
    live.expected = true;
    live.proc.kill(new SockdError(Status.HANDLER_ERROR, "Plugin failed to load"));
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
