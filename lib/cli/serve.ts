/**
 * `sockd serve`: host the built-ins and plugin directories on a socket until
 * SIGINT/SIGTERM; SIGHUP reloads the plugin directories.
 *
 * @module
 */
import { dirname } from "node:path";
import type { LogLevel } from "../log.ts";
import { grantsNet } from "../runner/grants.ts";
import { serve } from "../server.ts";
import { Exit } from "./exit_codes.ts";
import { type LogFormat, stderrLogger } from "./logger.ts";
import { errorLine } from "./render.ts";
import { defaultSocketPath, ensureSocketDir } from "./socket_path.ts";

/** Options of {@linkcode runServe}. */
export interface ServeCliOptions {
  socket?: string;
  plugins: string[];
  logLevel: LogLevel;
  logFormat: LogFormat;
  mode?: number;
}

/** Runs a server until a signal stops it; returns the exit code. */
export async function runServe(options: ServeCliOptions, stderr: (line: string) => void): Promise<number> {
  const logger = stderrLogger(options.logLevel, options.logFormat);
  const path = options.socket ?? defaultSocketPath();
  let server;
  try {
    if (options.socket === undefined) await ensureSocketDir(dirname(path));
    server = await serve({ path, plugins: options.plugins, logger, mode: options.mode });
  } catch (err) {
    stderr(errorLine((err as Error).message));
    return Exit.FAILED;
  }
  // Least privilege: the listener is bound and accepting needs no permission,
  // so the network permission (granted broadly because the path is chosen at
  // run time) is dropped for the rest of the process's life — unless a plugin
  // is granted net hosts: a worker can only get what its parent holds, and
  // revoking a global grant is all or nothing (revoking some hosts does not
  // narrow it), so then the server keeps it and says so.
  const netPlugins = server.plugins().filter((p) => grantsNet(p.grants));
  if (netPlugins.length === 0) {
    await Deno.permissions.revoke({ name: "net" });
    logger.debug("Dropped the network permission");
  } else {
    logger.info("Keeping the network permission: plugins are granted net hosts", {
      plugins: netPlugins.map((p) => p.file).join(","),
    });
  }

  const reload = () => {
    logger.info("SIGHUP: reloading plugins");
    server.reload().catch((err) => logger.error("Reload failed", { error: (err as Error).message }));
  };
  Deno.addSignalListener("SIGHUP", reload);

  let signals = 0;
  const stop = (signal: Deno.Signal) => () => {
    signals++;
    logger.info(signals > 1 ? "Second signal: cancelling calls now" : "Stopping", { signal });
    server.close({ drainMs: signals > 1 ? 0 : undefined });
    if (signals > 1) server.close();
  };
  const handlers = (["SIGINT", "SIGTERM"] as const).map((s) => [s, stop(s)] as const);
  for (const [s, h] of handlers) Deno.addSignalListener(s, h);
  await server.finished;
  for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  Deno.removeSignalListener("SIGHUP", reload);
  return Exit.OK;
}
