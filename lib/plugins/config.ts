/**
 * The grants file of a plugin directory: `sockd.json` beside the plugins,
 * written by the operator, read on every load and reload.
 *
 * ```json
 * {
 *   "plugins": {
 *     "hostname.ts": { "read": ["/etc/hostname"] },
 *     "tail.ts": { "read": ["/var/log/app"], "env": ["TZ"] },
 *     "fast.ts": { "sandbox": "inline" },
 *     "big.ts": { "memory": 512, "import": ["npm:zod@3"] }
 *   }
 * }
 * ```
 *
 * Keys under `plugins` are file names in the directory. Each grant is `true`
 * (all of that kind) or a list; what is not granted is denied. Relative
 * `read`/`write` paths are relative to the directory. `"memory"` sets the
 * heap cap of the plugin's isolate in MiB, `"idle"` the seconds its host may
 * stay without calls before it stops (`0`: always running); `"import"` lists the module
 * specifiers (or prefixes) it may import besides its own directory.
 * `"sandbox": "inline"` (or `false`) runs the file in the server itself,
 * with all of the server's permissions: for trusted, hot code only.
 *
 * @module
 */
import { basename, isAbsolute, join, resolve } from "node:path";
import type { PluginGrants } from "../command.ts";
import { GRANT_KINDS } from "../runner/grants.ts";

/** The name of the grants file in a plugin directory. */
export const CONFIG_FILE = "sockd.json";

/** The grants of one plugin directory. */
export interface DirConfig {
  /** Absolute path of the config file (whether or not it exists). */
  file: string;
  /** Whether the file exists. */
  exists: boolean;
  /** Grants by plugin file name. */
  plugins: Map<string, PluginGrants>;
}

/** A config file that is not valid; the message names the file and the key. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const KEYS = [...GRANT_KINDS, "sandbox", "memory", "idle"] as const;

/** Reads and validates `dir/sockd.json`; a missing file grants nothing. */
export async function readDirConfig(dir: string): Promise<DirConfig> {
  const file = join(resolve(dir), CONFIG_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { file, exists: false, plugins: new Map() };
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`);
  }
  return parseDirConfig(text, file);
}

/**
 * Parses the text of a grants file at `file`, or throws a
 * {@linkcode ConfigError} saying which key is wrong and why.
 *
 * @example
 * ```ts
 * import { parseDirConfig } from "./config.ts";
 * const cfg = parseDirConfig('{"plugins": {"a.ts": {"read": ["logs"]}}}', "/srv/cmds/sockd.json");
 * const read = cfg.plugins.get("a.ts")?.read;
 * console.assert(Array.isArray(read) && read[0] === "/srv/cmds/logs");
 * ```
 */
export function parseDirConfig(text: string, file: string): DirConfig {
  const dir = resolve(file, "..");
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(raw)) throw new ConfigError(`${file}: expected an object like {"plugins": {...}}`);
  for (const key of Object.keys(raw)) {
    if (key !== "plugins" && !key.startsWith("$")) {
      throw new ConfigError(`${file}: unknown key "${key}" (expected "plugins")`);
    }
  }
  const plugins = new Map<string, PluginGrants>();
  if (raw.plugins === undefined) return { file, exists: true, plugins };
  if (!isObject(raw.plugins)) {
    throw new ConfigError(`${file}: "plugins" must be an object of file name → grants`);
  }
  for (const [name, value] of Object.entries(raw.plugins)) {
    const where = `${file}: plugins[${JSON.stringify(name)}]`;
    if (name !== basename(name) || name === "." || name === "..") {
      throw new ConfigError(`${where}: must be a file name in ${dir}, not a path`);
    }
    if (!isObject(value)) {
      throw new ConfigError(`${where}: must be an object of grants, e.g. {"read": ["/path"]}`);
    }
    const grants: PluginGrants = {};
    for (const [key, v] of Object.entries(value)) {
      if (!(KEYS as readonly string[]).includes(key)) {
        throw new ConfigError(`${where}: unknown key "${key}" (known: ${KEYS.join(", ")})`);
      }
      if (key === "sandbox") {
        if (v === false || v === "inline") grants.sandbox = "inline";
        else if (v !== true && v !== "process") {
          throw new ConfigError(`${where}.sandbox: must be "process" (the default) or "inline"`);
        }
        continue;
      }
      if (key === "memory") {
        if (typeof v !== "number" || !Number.isInteger(v) || v < 16 || v > 65536) {
          throw new ConfigError(`${where}.memory: must be a whole number of MiB from 16 to 65536`);
        }
        grants.memory = v;
        continue;
      }
      if (key === "idle") {
        if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 86_400) {
          throw new ConfigError(
            `${where}.idle: must be a number of seconds from 0 (always running) to 86400`,
          );
        }
        grants.idle = v;
        continue;
      }
      const kind = key as typeof GRANT_KINDS[number];
      if (v === false) continue;
      if (v === true) {
        grants[kind] = true;
        continue;
      }
      if (!Array.isArray(v) || !v.every((s) => typeof s === "string" && s.length > 0)) {
        throw new ConfigError(`${where}.${key}: must be true, false, or a list of non-empty strings`);
      }
      const list = kind === "read" || kind === "write"
        ? v.map((p: string) => isAbsolute(p) ? p : resolve(dir, p))
        : [...v as string[]];
      if (list.length > 0) grants[kind] = list;
    }
    plugins.set(name, grants);
  }
  return { file, exists: true, plugins };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
