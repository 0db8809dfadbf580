/**
 * The built-in commands, in the same plugin format users write.
 * Listed statically so the compiled binary carries them with no file access.
 *
 * @module
 */
import type { Command } from "../lib/command.ts";
import connections from "./connections.ts";
import echo from "./echo.ts";
import help from "./help.ts";
import logLevel from "./log_level.ts";
import ping from "./ping.ts";
import plugins from "./plugins.ts";
import { PROCESS_BUILTINS } from "./processes.ts";
import reload from "./reload.ts";
import shutdown from "./shutdown.ts";
import stats from "./stats.ts";
import status from "./status.ts";
import upgrade from "./upgrade.ts";
import version from "./version.ts";

/** Every built-in command. */
export const BUILTINS: readonly Command[] = [
  help,
  ping,
  echo,
  version,
  stats,
  status,
  connections,
  logLevel,
  shutdown,
];

/** Built-ins a server has when it has plugin directories: `reload` and `plugins`. */
export const PLUGIN_BUILTINS: readonly Command[] = [reload, plugins];

/** The built-in a server has when it can start its successor (`sockd serve`): `upgrade`. */
export const UPGRADE_BUILTIN: Command = upgrade;

/**
 * The built-ins of a server with these parts: `reload` and `plugins` with
 * plugin directories; `reload` and the process commands (`ps`, `start`,
 * `stop`, `restart`, `signal`, `logs`, `events`) when it supervises
 * processes; `upgrade` when it can start its successor.
 */
export function builtinsFor(parts: { plugins: boolean; supervise: boolean; upgrade?: boolean }): Command[] {
  const list = [...BUILTINS];
  if (parts.plugins) list.push(...PLUGIN_BUILTINS);
  if (parts.supervise) list.push(...(parts.plugins ? [] : [reload]), ...PROCESS_BUILTINS);
  if (parts.upgrade) list.push(UPGRADE_BUILTIN);
  return list;
}
