/**
 * Parses the socket and limit options of `sockd serve`:
 * `--listen PATH[,access=read][,mode=660][,group=adm][,maxConnections=N]...` and
 * `--limit NAME=VALUE`.
 *
 * @module
 */
import { ACCESS_LEVELS, type AccessLevel } from "../command.ts";
import { DEFAULT_LIMITS, type Limits, LISTENER_LIMIT_KEYS, type ListenerLimits } from "../limits.ts";
import type { ListenOptions } from "../listener.ts";
import { parseDuration } from "./duration.ts";

/** Parses an octal file mode such as `600` or `0660`. */
export function parseMode(text: string): number {
  if (!/^0?[0-7]{3}$/.test(text)) throw new Error(`Invalid mode "${text}" (use octal, e.g. 600 or 660)`);
  return parseInt(text, 8);
}

/** Parses an access level name. */
export function parseAccess(text: string): AccessLevel {
  if (!(ACCESS_LEVELS as readonly string[]).includes(text)) {
    throw new Error(`Invalid access level "${text}" (use ${ACCESS_LEVELS.join(", ")})`);
  }
  return text as AccessLevel;
}

/**
 * Parses `PATH[,access=LEVEL][,mode=OCTAL][,group=NAME]` and the socket's own
 * limits; `fd:NAME` instead of a path configures the sockets systemd passed
 * under that name (their mode and group are the .socket unit's). Limits: `maxConnections=N`, `maxCalls=N`, `maxCallsPerConnection=N`,
 * `idleTimeoutMs=DURATION`.
 */
export function parseListenSpec(spec: string): ListenOptions {
  const [path, ...opts] = spec.split(",");
  if (!path) throw new Error(`--listen needs a path, e.g. /run/app/ro.sock,access=read,mode=666`);
  const out: ListenOptions = { path };
  if (path.startsWith("fd:")) {
    // A socket systemd passed, by its name (FileDescriptorName= of the .socket unit).
    const name = path.slice(3);
    if (!/^[A-Za-z0-9_.@-]{1,255}$/.test(name)) {
      throw new Error(`Invalid socket name "${name}" in --listen ${path} (letters, digits, _ . @ -)`);
    }
    out.fdName = name;
  }
  for (const opt of opts) {
    const eq = opt.indexOf("=");
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? "" : opt.slice(eq + 1);
    if (key === "access") out.access = parseAccess(value);
    else if ((key === "mode" || key === "group") && out.fdName !== undefined) {
      throw new Error(`--listen ${path}: ${key}= belongs to the .socket unit (SocketMode=, SocketGroup=)`);
    } else if (key === "mode") out.mode = parseMode(value);
    else if (key === "group" && value) out.group = value;
    else if ((LISTENER_LIMIT_KEYS as readonly string[]).includes(key)) {
      out.limits = parseLimit(opt, out.limits ?? {}) as Partial<ListenerLimits>;
    } else {
      throw new Error(
        `Unknown --listen option "${opt}" (use access=, mode=, group=, ${
          LISTENER_LIMIT_KEYS.map((k) => k + "=").join(", ")
        })`,
      );
    }
  }
  return out;
}

/** Parses `NAME=VALUE` for one of {@linkcode Limits}; `...Ms` limits take durations (`30s`, `500ms`). */
export function parseLimit(text: string, into: Partial<Limits>): Partial<Limits> {
  const eq = text.indexOf("=");
  const name = text.slice(0, eq) as keyof Limits;
  const value = text.slice(eq + 1);
  if (eq < 0 || !(name in DEFAULT_LIMITS)) {
    throw new Error(
      `Unknown limit "${text}" (use NAME=VALUE with one of ${Object.keys(DEFAULT_LIMITS).join(", ")})`,
    );
  }
  const n = name.endsWith("Ms")
    ? (/^\d+$/.test(value) ? Number(value) : parseDuration(value))
    : Number(value);
  if (!Number.isFinite(n) || n < 0 || value === "") throw new Error(`Invalid value for ${name}: "${value}"`);
  return { ...into, [name]: n };
}
