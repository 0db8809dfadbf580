/**
 * The benchmark environment: configuration, temp dirs, and the servers under
 * test, each a separate process (so client and server run on different
 * threads, as in production).
 *
 * @module
 */
import type { Window } from "./_measure.ts";
import { type Peers, spawnHaproxy, spawnRedis } from "./_peers.ts";
import { DENO, NODE, ROOT, type Scope, type ServerProc, spawnServer } from "./_processes.ts";

/** How much the suite runs. */
export interface Config {
  quick: boolean;
  /** Repetitions of each figure; the table shows medians. */
  reps: number;
  /** One repetition of a throughput figure. */
  window: Window;
  /** Bytes of the streaming figure. */
  streamBytes: number;
  /** Idle connections of the memory figure. */
  idleConnections: number;
  /** Repetitions of the memory figure (fresh servers each). */
  memoryReps: number;
  /** Cold process runs of each side of the CLI figure. */
  coldRuns: number;
}

const GiB = 1024 * 1024 * 1024;

/** The full run: a few minutes on 2 cores. */
export const FULL: Config = {
  quick: false,
  reps: 5,
  window: { warmupMs: 300, durationMs: 1500, maxUnits: 20_000_000 },
  streamBytes: GiB,
  idleConnections: 1000,
  memoryReps: 3,
  coldRuns: 15,
};

/** `--quick`: about 30 s; the stream is scaled down to 128 MiB. */
export const QUICK: Config = {
  quick: true,
  reps: 3,
  window: { warmupMs: 100, durationMs: 400, maxUnits: 20_000_000 },
  streamBytes: GiB / 8,
  idleConnections: 1000,
  memoryReps: 1,
  coldRuns: 5,
};

/** Everything the figures share; owned by `scope`. */
export interface Env {
  scope: Scope;
  config: Config;
  /** Temp dir holding the sockets and the plugin dir. */
  dir: string;
  /** Plugin dir served by the sockd server (holds fixtures/bench_commands.ts). */
  pluginDir: string;
  /** When set, sockd servers write V8 CPU profiles here (`--cpu-prof`). */
  profileDir?: string;
  /** The raw echo socket. */
  rawEcho: string;
  /** The raw bulk socket. */
  rawBulk: string;
  /** The sockd server (built-ins + the bench plugin dir). */
  sockd: string;
  /** The node:net JSON-lines peer. */
  node: string;
  /** HAProxy and Redis as found or installed (a peer that failed to start says why here). */
  peers: Peers;
  /** HAProxy's runtime API socket, when it runs. */
  haproxy?: string;
  /** Redis's socket, when it runs. */
  redis?: string;
  servers: ServerProc[];
}

let serial = 0;

/** Starts `sockd serve --socket PATH ...args` as `deno task sockd` would (same entry point and permission set). */
export function spawnSockd(
  env: Pick<Env, "scope" | "profileDir">,
  name: string,
  path: string,
  args: string[] = [],
) {
  const prof = env.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${env.profileDir}/${name}`] : [];
  return spawnServer(env.scope, `sockd serve (${name})`, {
    cmd: DENO,
    args: ["run", "-q", ...prof, "-P=sockd", `${ROOT}main.ts`, "serve", "--socket", path, ...args],
    sockets: [path],
  });
}

/** Starts the raw baseline server (tests/bench/raw_server.ts) with only the permissions it needs. */
export function spawnRaw(
  scope: Scope,
  dir: string,
  sockets: { echo?: string; bulk?: string; stats?: string },
) {
  const paths = [sockets.echo, sockets.bulk, sockets.stats].filter((s): s is string => s !== undefined);
  const args = [
    "run",
    "-q",
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
    `--allow-net=${paths.map((p) => `unix:${p}`).join(",")}`,
    `${ROOT}tests/bench/raw_server.ts`,
  ];
  if (sockets.echo) args.push("--echo", sockets.echo);
  if (sockets.bulk) args.push("--bulk", sockets.bulk);
  if (sockets.stats) args.push("--stats", sockets.stats);
  return spawnServer(scope, "raw echo server", { cmd: DENO, args, sockets: paths });
}

/** A fresh socket path in `dir`. */
export function socketPath(dir: string, name: string): string {
  return `${dir}/${name}-${++serial}.sock`;
}

/** Creates the temp dirs and starts the raw, sockd and node servers, and the peers that are installed. */
export async function setUp(scope: Scope, config: Config, peers: Peers, profileDir?: string): Promise<Env> {
  const dir = await scope.tempDir();
  const pluginDir = `${dir}/plugins`;
  await Deno.mkdir(pluginDir);
  await Deno.copyFile(`${ROOT}tests/bench/fixtures/bench_commands.ts`, `${pluginDir}/bench_commands.ts`);
  // Every figure but the plugin-host ones measures sockd's own path: run the bench plugin inline.
  await Deno.writeTextFile(
    `${pluginDir}/sockd.json`,
    JSON.stringify({ plugins: { "bench_commands.ts": { sandbox: "inline" } } }),
  );
  const env: Env = {
    scope,
    config,
    dir,
    pluginDir,
    profileDir,
    rawEcho: socketPath(dir, "raw-echo"),
    rawBulk: socketPath(dir, "raw-bulk"),
    sockd: socketPath(dir, "sockd"),
    node: socketPath(dir, "node"),
    peers: { ...peers },
    servers: [],
  };
  env.servers.push(
    await spawnRaw(scope, dir, { echo: env.rawEcho, bulk: env.rawBulk }),
    await spawnSockd(env, "main", env.sockd, ["--plugins", pluginDir]),
    await spawnServer(scope, "node:net JSON-lines server", {
      cmd: NODE,
      args: [`${ROOT}tests/bench/node/jsonl_server.mjs`, env.node],
      sockets: [env.node],
    }),
  );
  if (peers.haproxy.ok) {
    const path = socketPath(dir, "haproxy");
    try {
      env.servers.push(await spawnHaproxy(scope, dir, path));
      env.haproxy = path;
    } catch (err) {
      env.peers.haproxy = { ok: false, why: `haproxy did not start: ${(err as Error).message}` };
    }
  }
  if (peers.redis.ok) {
    const path = socketPath(dir, "redis");
    try {
      env.servers.push(await spawnRedis(scope, dir, path));
      env.redis = path;
    } catch (err) {
      env.peers.redis = { ok: false, why: `redis-server did not start: ${(err as Error).message}` };
    }
  }
  return env;
}
