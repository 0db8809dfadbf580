/**
 * Why a plugin did not load, in one line an operator can act on.
 *
 * @module
 */
import { SockdError, Status, toSockdError } from "../errors.ts";
import { permissionHint } from "./grants.ts";
import type { WireError } from "./host_protocol.ts";

/** A plugin file that could not be loaded in a host; the message says why. */
export class PluginLoadError extends Error {
  /** The plugin file no longer holds the code of the version that tried to start (a reload is due). */
  readonly stale: boolean;
  constructor(message: string, options: { stale?: boolean } = {}) {
    super(message);
    this.name = "PluginLoadError";
    this.stale = options.stale ?? false;
  }
}

const PREFIX_RE = /^(Uncaught )?(\(in promise\) )?((\w*Error|NotCapable|PermissionDenied): )?/;

/**
 * A load failure in one line: the error without runtime prefixes or code
 * frames, a permission hint if any, and where it happened.
 *
 * @example
 * ```ts
 * import { loadMessage } from "./load_error.ts";
 * const m = loadMessage(
 *   { name: "Error", message: "Uncaught SyntaxError: Unexpected token '}'\n    at file:///srv/cmds/a.ts:3:1" },
 *   "a.ts",
 *   "/srv/cmds/sockd.json",
 * );
 * console.assert(m === "SyntaxError: Unexpected token '}' (at file:///srv/cmds/a.ts:3:1)");
 * ```
 */
export function loadMessage(err: WireError | undefined, name: string, configFile: string): string {
  const raw = String(err?.message ?? "unknown error");
  const lines = raw.split("\n").map((l) => l.trim()).filter((l) => l && !/^[|~^\d ]+(\|.*)?$/.test(l));
  const first = lines[0] ?? raw;
  const bare = first.replace(PREFIX_RE, "");
  const hint = permissionHint(bare, name, configFile);
  if (hint) return hint;
  const at = lines.find((l) => l.startsWith("at "));
  const kind = err?.name && err.name !== "Error" && !first.includes(err.name) ? `${err.name}: ` : "";
  return `${kind}${first.replace(/^Uncaught (\(in promise\) )?/, "")}${at ? ` (${at})` : ""}`;
}

/**
 * The error a call of plugin `name` ended with, as the client gets it: a
 * permission error names the grant; a status that is not a sockd code (0,
 * 200, 12345) is the plugin's mistake and answers 105 with its message.
 */
export function callError(err: WireError, name: string, configFile: string): SockdError {
  const hint = permissionHint(err.message, name, configFile);
  if (hint) return new SockdError(Status.HANDLER_ERROR, hint);
  const error = Object.assign(new Error(err.message || "Command failed"), { status: err.status });
  return toSockdError(err.details ? Object.assign(error, { details: err.details }) : error);
}
