/**
 * Why a plugin did not load, in one line an operator can act on.
 *
 * @module
 */
import { permissionHint } from "./grants.ts";
import type { WireError } from "./host_protocol.ts";

/** A plugin file that could not be loaded in a host; the message says why. */
export class PluginLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PluginLoadError";
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
