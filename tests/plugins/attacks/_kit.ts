/**
 * The adversarial suite's kit: a real `sockd serve` subprocess over a copy of
 * one theme's hostile fixture plugins, a `ping` loop on its own connection
 * that records every failure, a secret beside the plugin directory that no
 * answer or log line may ever contain, and a local HTTP canary that records
 * every request (nothing may be fetched from it).
 *
 * A theme is `tests/fixtures/attacks/<theme>/`: `plugins/` becomes the plugin
 * directory, `outside/` is copied beside it (where the secret lives) and
 * `shared/` is a directory a grant may name. In every copied file
 * `__SECRET_DIR__`, `__SHARED_DIR__` and `__CANARY__` are replaced by the run's
 * paths and the canary's origin.
 */
import { type Client, connect } from "../../../lib/client.ts";
import type { SockdError } from "../../../lib/errors.ts";
import { assert } from "../../assert.ts";
import { ROOT, type ServerProcess, startServer, waitFor } from "../../_helpers.ts";

/** One plugin file as `plugins --json` shows it (the fields the suite relies on). */
export interface PluginInfo {
  file: string;
  state: "loaded" | "failed" | "disabled";
  error?: string;
  restarts: number;
  pid?: number;
  memoryBytes?: number;
  runner: string;
  commands: string[];
  warnings?: string[];
}

/** Calls `ping` on its own connection every `intervalMs`; a ping slower than `limitMs` is a failure. */
export class Pinger {
  ok = 0;
  failures: string[] = [];
  #running = true;
  #loop: Promise<void>;

  constructor(readonly client: Client, readonly intervalMs = 20, readonly limitMs = 2000) {
    this.#loop = this.#run();
  }

  async #run() {
    while (this.#running) {
      const t0 = performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<string>((r) => timer = setTimeout(() => r("no answer"), this.limitMs));
      const answer = this.client.call("ping").result.then(String, (e) => `error ${e.message}`);
      const got = await Promise.race([answer, late]);
      clearTimeout(timer);
      if (got === "pong") this.ok++;
      else this.failures.push(`${new Date().toISOString()} ping: ${got} after ${performance.now() - t0} ms`);
      await new Promise((r) => setTimeout(r, this.intervalMs));
    }
  }

  /** Where the counters are now. */
  mark(): { ok: number; failed: number } {
    return { ok: this.ok, failed: this.failures.length };
  }

  /** Asserts no ping failed since `mark` and at least `min` answered. */
  assertSince(mark: { ok: number; failed: number }, min: number, what = "the attack"): void {
    const failed = this.failures.slice(mark.failed);
    assert(failed.length === 0, `ping failed during ${what}:\n${failed.join("\n")}`);
    assert(this.ok - mark.ok >= min, `only ${this.ok - mark.ok} pings answered during ${what} (want ${min})`);
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }
}

/** A local HTTP server that records requests: an import or fetch that reaches it is a hole. */
export interface Canary {
  origin: string;
  hits: string[];
}

/** A server under attack, with what the tests need around it. */
export interface Attack extends AsyncDisposable {
  tmp: string;
  /** The plugin directory. */
  dir: string;
  /** The directory beside it holding the secret (and `outside/`). */
  secretDir: string;
  /** Text that is in the secret files only: no answer or log line may contain it. */
  secret: string;
  server: ServerProcess;
  client: Client;
  pinger: Pinger;
  canary: Canary;
  /** Calls and returns the result (bounded by `ms`). */
  call(command: string, args?: string[], ms?: number): Promise<unknown>;
  /** Calls and returns the error it must answer with (fails if it answers a result; bounded by `ms`). */
  fail(command: string, args?: string[], ms?: number): Promise<SockdError>;
  plugins(): Promise<PluginInfo[]>;
  /** The plugin whose file is named `name`. */
  plugin(name: string): Promise<PluginInfo>;
  /** Polls `plugins --json` until `check` holds for `name`, or throws after `ms`. */
  waitPlugin(name: string, check: (p: PluginInfo) => boolean, ms: number, what: string): Promise<PluginInfo>;
  /** Asserts the server process is still running and the secret leaked nowhere. */
  assertIntact(): void;
}

const FIXTURES = `${ROOT}tests/fixtures/attacks/`;

/** Runs `body` bounded by `ms`; rejects with `what` when it does not settle in time. */
export async function within<T>(ms: number, what: string, body: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) =>
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  );
  try {
    return await Promise.race([body, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function copyTree(from: string, to: string, replace: (text: string) => string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const src = `${from}/${entry.name}`;
    const dst = `${to}/${entry.name}`;
    if (entry.isDirectory) await copyTree(src, dst, replace);
    else if (/\.(ts|js|json|txt)$/.test(entry.name)) {
      await Deno.writeTextFile(dst, replace(await Deno.readTextFile(src)));
    } else await Deno.copyFile(src, dst);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** The npm package a fresh DENO_DIR must never receive. */
export const CANARY_PACKAGE = "is-number";

/**
 * A fresh DENO_DIR holding a copy of the npm cache (so the server starts
 * offline) without the canary package: a download by a plugin shows up in it.
 */
async function freshDenoDir(tmp: string): Promise<string> {
  const info = new Deno.Command("deno", { args: ["info", "--json"], stdout: "piped", stderr: "null" });
  const { npmCache } = JSON.parse(new TextDecoder().decode((await info.output()).stdout)) as {
    npmCache: string;
  };
  const dir = `${tmp}/deno_dir`;
  const to = `${dir}/npm/registry.npmjs.org`;
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(`${npmCache}/registry.npmjs.org`)) {
    // Every package the cache holds (sockd's own, scoped ones included), not the canary.
    if (e.name === CANARY_PACKAGE || e.name.startsWith(".")) continue;
    await copyTree(`${npmCache}/registry.npmjs.org/${e.name}`, `${to}/${e.name}`, (t) => t);
  }
  return dir;
}

/** Options of {@linkcode attack}. */
export interface AttackOptions {
  /** More `sockd serve` arguments. */
  args?: string[];
  /** More environment for the server. */
  env?: Record<string, string>;
  /** Run the server with a fresh DENO_DIR (see {@linkcode freshDenoDir}); its path is `${tmp}/deno_dir`. */
  freshDenoDir?: boolean;
  /** Point `JSR_URL` at the canary. */
  jsrCanary?: boolean;
  /** Runs after the copy, before the server starts (symlinks and such). */
  setup?: (paths: { tmp: string; dir: string; secretDir: string; canary: string }) => Promise<void>;
  /** The ping loop's interval (ms). */
  pingIntervalMs?: number;
}

/** Copies `theme`, starts `sockd serve --plugins` on it and a ping loop beside it. */
export async function attack(theme: string, options: AttackOptions = {}): Promise<Attack> {
  const tmp = await Deno.makeTempDir({ prefix: "sockd-attack-" });
  const hits: string[] = [];
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    hits.push(`${req.method} ${req.url}`);
    return new Response("export default 'CANARY-FETCHED';\n", {
      headers: { "content-type": "application/javascript" },
    });
  });
  const canary = { origin: `http://127.0.0.1:${http.addr.port}`, hits };
  const secret = `sockd-secret-${crypto.randomUUID()}`;
  const dir = `${tmp}/plugins`;
  const secretDir = `${tmp}/secret`;
  const shared = `${tmp}/shared`;
  const replace = (t: string) =>
    t.replaceAll("__SECRET_DIR__", secretDir).replaceAll("__SHARED_DIR__", shared)
      .replaceAll("__CANARY__", canary.origin);
  let server: ServerProcess | undefined;
  let client: Client | undefined;
  try {
    await copyTree(`${FIXTURES}${theme}/plugins`, dir, replace);
    await Deno.mkdir(secretDir);
    if (await exists(`${FIXTURES}${theme}/outside`)) {
      await copyTree(`${FIXTURES}${theme}/outside`, secretDir, replace);
    }
    if (await exists(`${FIXTURES}${theme}/shared`)) {
      await copyTree(`${FIXTURES}${theme}/shared`, shared, replace);
    }
    await Deno.writeTextFile(`${secretDir}/secret.txt`, `${secret}\n`);
    await Deno.writeTextFile(`${secretDir}/secret.json`, JSON.stringify({ secret }));
    await options.setup?.({ tmp, dir, secretDir, canary: canary.origin });
    const env: Record<string, string> = { ...options.env };
    if (options.freshDenoDir) env.DENO_DIR = await freshDenoDir(tmp);
    if (options.jsrCanary) env.JSR_URL = `${canary.origin}/jsr/`;
    server = await startServer(`${tmp}/s.sock`, ["--plugins", dir, ...options.args ?? []], env);
    client = await connect(server.path);
  } catch (err) {
    client?.close();
    await server?.stop("SIGKILL");
    await http.shutdown();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw err;
  }
  const srv = server;
  const cl = client;
  let exited: number | undefined;
  srv.process.status.then((s) => exited = s.code);
  const pinger = new Pinger(await connect(srv.path), options.pingIntervalMs);

  const call = (command: string, args: string[] = [], ms = 15_000) =>
    within(ms, `call ${command}`, cl.call(command, args).result);
  const fail = async (command: string, args: string[] = [], ms = 15_000) => {
    try {
      const value = await call(command, args, ms);
      throw Object.assign(
        new Error(`${command} answered a result: ${JSON.stringify(value)?.slice(0, 300)}`),
        {
          unexpected: true,
        },
      );
    } catch (err) {
      if ((err as { unexpected?: boolean }).unexpected || !("status" in (err as object))) throw err;
      return err as SockdError;
    }
  };
  const plugins = async () => await call("plugins", ["--json"], 5000) as PluginInfo[];
  const plugin = async (name: string) => {
    const list = await plugins();
    const found = list.find((p) => p.file === `${dir}/${name}` || p.file.endsWith(`/${name}`));
    assert(found, `no plugin ${name} in ${JSON.stringify(list.map((p) => p.file))}`);
    return found;
  };
  const waitPlugin = async (name: string, check: (p: PluginInfo) => boolean, ms: number, what: string) => {
    let last: PluginInfo | undefined;
    try {
      await waitFor(async () => check(last = await plugin(name)), ms, what);
    } catch (err) {
      throw new Error(`${(err as Error).message}; last: ${JSON.stringify(last)}`);
    }
    return last!;
  };
  return {
    tmp,
    dir,
    secretDir,
    secret,
    server: srv,
    client: cl,
    pinger,
    canary,
    call,
    fail,
    plugins,
    plugin,
    waitPlugin,
    assertIntact() {
      assert(exited === undefined, `the server exited with ${exited}:\n${srv.stderr().slice(-3000)}`);
      assert(!srv.stderr().includes(secret), "the secret is in the server's log");
    },
    async [Symbol.asyncDispose]() {
      await pinger.stop();
      pinger.client.close();
      cl.close();
      await srv.stop("SIGKILL");
      await http.shutdown();
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * A `t.step` that asserts `ping` on the other connection answered throughout
 * (no failure, at least `minPings`), the server still runs, and the secret is
 * in no log line.
 */
export function step(
  t: Deno.TestContext,
  a: Attack,
  name: string,
  body: () => void | Promise<void>,
  minPings = 3,
): Promise<boolean> {
  return t.step(name, async () => {
    const mark = a.pinger.mark();
    await body();
    // Give the loop a turn so a short step is still watched by at least one ping after the attack.
    await waitFor(() => a.pinger.ok - mark.ok >= minPings, 5000, `${minPings} pings`).catch(() => {});
    a.pinger.assertSince(mark, minPings, name);
    a.assertIntact();
  });
}

/** Asserts `text` does not contain the secret. */
export function assertNoSecret(a: Attack, text: unknown): void {
  const s = typeof text === "string" ? text : JSON.stringify(text) ?? "";
  assert(!s.includes(a.secret), `the secret leaked: ${s.slice(0, 300)}`);
}

/**
 * A file under /proc/<pid>/, or undefined when the process is gone. Deno
 * asks for --allow-all to read /proc/<pid>/* itself, which no permission set
 * here has; jq (in the test set's run list) reads it as raw text instead.
 */
function procFile(pid: number, name: string): string | undefined {
  const out = new Deno.Command("jq", {
    args: ["-Rr", ".", `/proc/${pid}/${name}`],
    stdout: "piped",
    stderr: "null",
  })
    .outputSync();
  return out.success ? new TextDecoder().decode(out.stdout) : undefined;
}

/** The child processes of `pid` (from /proc/<pid>/task/<pid>/children). */
export function childPids(pid: number): number[] {
  const text = procFile(pid, `task/${pid}/children`) ?? "";
  return text.trim().split(/\s+/).filter((s) => s !== "").map(Number);
}

/** The state letter of a process (R, S, T for stopped, Z for zombie...), or undefined when it is gone. */
export function procState(pid: number): string | undefined {
  const stat = procFile(pid, "stat");
  return stat === undefined ? undefined : stat.slice(stat.lastIndexOf(")") + 2)[0];
}

/** Whether a process runs (a zombie counts as gone: it holds no CPU or memory). */
export function alive(pid: number): boolean {
  const state = procState(pid);
  return state !== undefined && state !== "Z";
}

/** CPU time (user + system) of a process so far, in seconds (`getconf CLK_TCK` is 100 here). */
export function cpuSeconds(pid: number): number {
  const stat = procFile(pid, "stat");
  if (stat === undefined) throw new Error(`process ${pid} is gone`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the state field.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Asserts `text` matches `pattern`. */
export function assertMatch(text: string, pattern: RegExp, message?: string): void {
  assert(pattern.test(text), message ?? `Expected ${JSON.stringify(text.slice(0, 500))} to match ${pattern}`);
}

/** Resident memory of a process, in MiB (VmRSS of /proc/<pid>/status). */
export function rssMiB(pid: number): number {
  const status = procFile(pid, "status");
  if (status === undefined) throw new Error(`process ${pid} is gone`);
  return Number(status.match(/VmRSS:\s+(\d+) kB/)?.[1] ?? NaN) / 1024;
}
