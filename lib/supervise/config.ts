/**
 * The supervisor's configuration: a JSON file with a `processes` section,
 * read and checked before anything is started, so a typo is an error that
 * names the file, the process and the field rather than a child that
 * misbehaves later.
 *
 * @module
 */
import { dirname, isAbsolute, resolve } from "node:path";

/** When a process is started again after it exits. */
export const RESTART_POLICIES = ["always", "on-failure", "never"] as const;
/** One of {@linkcode RESTART_POLICIES}. */
export type RestartPolicy = typeof RESTART_POLICIES[number];

/** What happens to the children when the server stops. */
export const ON_SHUTDOWN = ["stop", "leave"] as const;

/** One supervised program, with every default filled in. */
export interface ProcessSpec {
  /** Unique name: what `ps`, `stop NAME` and `logs NAME` use. */
  name: string;
  /** The program: a path, or a name looked up on PATH. */
  command: string;
  /** Its arguments. @default {[]} */
  args: string[];
  /** Working directory, absolute (relative paths are resolved against the config file). */
  cwd?: string;
  /** Variables added to the server's environment. @default {{}} */
  env: Record<string, string>;
  /** Start it when the server starts (and when a reload adds it). @default {true} */
  autostart: boolean;
  /** When to start it again after it exits. @default {"always"} */
  restart: RestartPolicy;
  /** First wait before a restart; doubles with each failed start. @default {1000} */
  backoffMs: number;
  /** The cap of that wait. @default {30000} */
  backoffMaxMs: number;
  /** A start counts as good once the process has run this long. @default {1000} */
  minUptimeMs: number;
  /** Failed starts in a row before the process is marked `fatal`. @default {5} */
  maxRestarts: number;
  /** Signal that asks the process group to stop. @default {"SIGTERM"} */
  stopSignal: Deno.Signal;
  /** Wait after the stop signal before the whole group gets SIGKILL. @default {10000} */
  stopTimeoutMs: number;
  /** Bytes of stdout, and again of stderr, kept for `logs`. @default {1048576} */
  logBytes: number;
}

/** A whole supervisor configuration. */
export interface SuperviseConfig {
  /** The processes, in the order the file lists them. */
  processes: ProcessSpec[];
  /** Stop the children when the server stops, or leave them running. @default {"stop"} */
  onShutdown: typeof ON_SHUTDOWN[number];
}

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/i;
/** The signals a process may be stopped or signalled with (Linux names). */
export const SIGNALS: ReadonlySet<string> = new Set(
  ("HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT CHLD CONT STOP TSTP TTIN " +
    "TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS").split(" ").map((s) => `SIG${s}`),
);
const TOP_KEYS = new Set(["processes", "onShutdown"]);
const DEFAULTS = {
  args: [] as string[],
  env: {} as Record<string, string>,
  autostart: true,
  restart: "always" as RestartPolicy,
  backoffMs: 1000,
  backoffMaxMs: 30_000,
  minUptimeMs: 1000,
  maxRestarts: 5,
  stopSignal: "SIGTERM" as Deno.Signal,
  stopTimeoutMs: 10_000,
  logBytes: 1 << 20,
};
const NUMBERS: Record<string, [min: number, max: number]> = {
  backoffMs: [0, 3_600_000],
  backoffMaxMs: [0, 3_600_000],
  minUptimeMs: [0, 3_600_000],
  maxRestarts: [0, 1_000_000],
  stopTimeoutMs: [0, 3_600_000],
  logBytes: [1024, 64 << 20],
};
const KEYS = new Set(["command", "cwd", ...Object.keys(DEFAULTS)]);

/**
 * Checks a parsed configuration and fills in defaults. `file` names the
 * source in errors and anchors relative `cwd` paths. Throws a `TypeError`
 * that says what is wrong and where.
 *
 * @example
 * ```ts
 * import { parseSuperviseConfig } from "./config.ts";
 * const config = parseSuperviseConfig({
 *   processes: { web: { command: "sh", args: ["-c", "echo hi"], restart: "never" } },
 * }, "/etc/sockd/sockd.json");
 * console.assert(config.processes[0]!.name === "web" && config.processes[0]!.stopTimeoutMs === 10000);
 * ```
 */
export function parseSuperviseConfig(value: unknown, file: string): SuperviseConfig {
  const where = (path: string) => `${file}: ${path}`;
  if (!isObject(value)) throw new TypeError(where("expected a JSON object"));
  for (const key of Object.keys(value)) {
    if (!TOP_KEYS.has(key)) throw new TypeError(where(`unknown key "${key}" (use processes, onShutdown)`));
  }
  const onShutdown = value.onShutdown ?? "stop";
  if (!(ON_SHUTDOWN as readonly unknown[]).includes(onShutdown)) {
    throw new TypeError(where(`onShutdown must be "stop" or "leave"`));
  }
  const procs = value.processes ?? {};
  if (!isObject(procs)) throw new TypeError(where(`"processes" must be an object of name → process`));
  const processes: ProcessSpec[] = [];
  for (const [name, raw] of Object.entries(procs)) {
    if (!NAME_RE.test(name)) {
      throw new TypeError(where(`process name "${name}" is invalid: use 1-64 of a-z A-Z 0-9 . _ -`));
    }
    processes.push(parseProcess(name, raw, file));
  }
  return { processes, onShutdown: onShutdown as SuperviseConfig["onShutdown"] };
}

/** Reads and checks a configuration file (see {@linkcode parseSuperviseConfig}). */
export async function loadSuperviseConfig(file: string): Promise<SuperviseConfig> {
  const path = resolve(file);
  let text;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new TypeError(`${path}: cannot read the supervisor config: ${(err as Error).message}`);
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TypeError(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  return parseSuperviseConfig(value, path);
}

function parseProcess(name: string, raw: unknown, file: string): ProcessSpec {
  const fail = (what: string): never => {
    throw new TypeError(`${file}: process "${name}": ${what}`);
  };
  if (!isObject(raw)) return fail("expected an object with at least a command");
  for (const key of Object.keys(raw)) {
    if (!KEYS.has(key)) fail(`unknown key "${key}" (use ${[...KEYS].join(", ")})`);
  }
  const spec: ProcessSpec = { name, command: "", ...structuredClone(DEFAULTS) };
  if (typeof raw.command !== "string" || raw.command === "" || raw.command.includes("\0")) {
    fail(`"command" must be a non-empty string (the program; its arguments go in "args")`);
  }
  spec.command = raw.command as string;
  if (raw.args !== undefined) {
    if (!Array.isArray(raw.args) || !raw.args.every((a) => typeof a === "string")) {
      fail(`"args" must be an array of strings`);
    }
    spec.args = [...raw.args as string[]];
  }
  if (raw.cwd !== undefined) {
    if (typeof raw.cwd !== "string" || raw.cwd === "") fail(`"cwd" must be a path`);
    const cwd = raw.cwd as string;
    spec.cwd = isAbsolute(cwd) ? cwd : resolve(dirname(file), cwd);
  }
  if (raw.env !== undefined) {
    if (!isObject(raw.env)) fail(`"env" must be an object of name → string`);
    for (const [k, v] of Object.entries(raw.env as object)) {
      if (typeof v !== "string" || k === "" || k.includes("=") || k.includes("\0")) {
        fail(`env "${k}" must be a string value with a name without "="`);
      }
      spec.env[k] = v as string;
    }
  }
  if (raw.autostart !== undefined) {
    if (typeof raw.autostart !== "boolean") fail(`"autostart" must be true or false`);
    spec.autostart = raw.autostart as boolean;
  }
  if (raw.restart !== undefined) {
    if (!(RESTART_POLICIES as readonly unknown[]).includes(raw.restart)) {
      fail(`"restart" must be one of ${RESTART_POLICIES.join(", ")}`);
    }
    spec.restart = raw.restart as RestartPolicy;
  }
  if (raw.stopSignal !== undefined) {
    if (typeof raw.stopSignal !== "string" || !SIGNALS.has(raw.stopSignal)) {
      fail(`"stopSignal" must be a signal name such as "SIGTERM"`);
    }
    spec.stopSignal = raw.stopSignal as Deno.Signal;
  }
  for (const [key, [min, max]] of Object.entries(NUMBERS)) {
    const v = raw[key];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      fail(`"${key}" must be an integer from ${min} to ${max}`);
    }
    (spec as unknown as Record<string, number>)[key] = v as number;
  }
  if (spec.backoffMaxMs < spec.backoffMs) fail(`"backoffMaxMs" must be at least "backoffMs"`);
  return spec;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
