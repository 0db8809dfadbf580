/**
 * The peers of issue 18: HAProxy's runtime API and Redis, each a separate
 * process on a UNIX socket in the bench's temp dir, driven by the same C
 * client as sockd. The bench installs them (Debian packages `haproxy`,
 * `redis-server`) when missing and it runs as root; otherwise their rows
 * say how to install them.
 *
 * - HAProxy: `stats socket PATH level admin`, `nbthread 1`, driven in prompt
 *   mode (`prompt` once per connection, so the connection stays open across
 *   commands; without it HAProxy closes after each). The command is
 *   `show version`: the cheapest one that answers a short line (like
 *   sockd's `pong`) after parsing and dispatch, touching no proxy state.
 *   An answer ends with HAProxy's prompt, "\n> ".
 * - Redis: `redis-server --port 0 --unixsocket PATH`, no persistence,
 *   `PING` answering `+PONG\r\n`.
 *
 * @module
 */
import type { Wire } from "./_c_client.ts";
import { runOutput, type Scope, type ServerProc, spawnServer } from "./_processes.ts";

/** Where Debian puts the binaries; deno.json's "bench" set names these paths (they may appear mid-run). */
export const HAPROXY_BIN = "/usr/sbin/haproxy";
export const REDIS_BIN = "/usr/bin/redis-server";

/** A peer ready to be spawned, or why it is not available. */
export type PeerInfo = { ok: true; version: string } | { ok: false; why: string };

/** What the bench found or installed. */
export interface Peers {
  haproxy: PeerInfo;
  redis: PeerInfo;
}

const exists = (path: string) => Deno.stat(path).then((s) => s.isFile, () => false);

async function aptGet(args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("apt-get", {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(5 * 60_000),
    }).output();
    return out.success ? undefined : new TextDecoder().decode(out.stderr).trim().split("\n").pop();
  } catch (err) {
    return (err as Error).message;
  }
}

/** Installs the missing packages with apt-get as root (after `apt-get update` if the first try fails). */
async function install(packages: string[], log: (line: string) => void): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "not root";
  log(`installing ${packages.join(" ")} (apt-get install -y) ...`);
  let failed = await aptGet(["install", "-y", "-q", ...packages]);
  if (failed !== undefined) {
    log("apt-get install failed; running apt-get update and trying again ...");
    failed = (await aptGet(["update", "-q"])) ?? (await aptGet(["install", "-y", "-q", ...packages]));
  }
  return failed;
}

async function versionOf(bin: string, pattern: RegExp): Promise<string> {
  const out = await runOutput(bin, ["-v"]);
  const m = pattern.exec(out);
  if (!m) throw new Error(`${bin} -v printed ${JSON.stringify(out.trim())}`);
  return m[1]!;
}

/** Finds HAProxy and Redis, installing them first when missing (as root). */
export async function findPeers(log: (line: string) => void): Promise<Peers> {
  const missing = [
    ...(await exists(HAPROXY_BIN) ? [] : ["haproxy"]),
    ...(await exists(REDIS_BIN) ? [] : ["redis-server"]),
  ];
  const installFailure = missing.length > 0 ? await install(missing, log) : undefined;
  const peer = async (pkg: string, bin: string, pattern: RegExp): Promise<PeerInfo> => {
    if (!await exists(bin)) {
      return {
        ok: false,
        why: `${pkg} is not installed (${
          installFailure ?? `apt-get did not put it at ${bin}`
        }): as root, apt-get install -y ${pkg}`,
      };
    }
    try {
      return { ok: true, version: await versionOf(bin, pattern) };
    } catch (err) {
      return { ok: false, why: `${bin} does not run: ${(err as Error).message}` };
    }
  };
  return {
    haproxy: await peer("haproxy", HAPROXY_BIN, /version (\S+)/i),
    redis: await peer("redis-server", REDIS_BIN, /v=(\S+)/),
  };
}

/** Starts HAProxy with only a runtime API socket at `path`; `dir` holds its config. */
export async function spawnHaproxy(scope: Scope, dir: string, path: string): Promise<ServerProc> {
  const config = `${dir}/haproxy-${crypto.randomUUID()}.cfg`;
  await Deno.writeTextFile(
    config,
    [
      "global",
      "  nbthread 1",
      "  maxconn 4096",
      `  stats socket ${path} mode 600 level admin`,
      "  stats timeout 10m",
      "  stats maxconn 4096",
      "",
    ].join("\n"),
  );
  // -db: stay in the foreground, no master process (the pid is HAProxy's own).
  return spawnServer(scope, "haproxy", { cmd: HAPROXY_BIN, args: ["-db", "-f", config], sockets: [path] });
}

/** Starts Redis on the UNIX socket `path` only, with no persistence; `dir` is its working dir. */
export function spawnRedis(scope: Scope, dir: string, path: string): Promise<ServerProc> {
  return spawnServer(scope, "redis-server", {
    cmd: REDIS_BIN,
    args: [
      "--port",
      "0",
      "--unixsocket",
      path,
      "--unixsocketperm",
      "600",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--maxclients",
      "4096",
      "--loglevel",
      "warning",
    ],
    sockets: [path],
  });
}

/** HAProxy's runtime API in prompt mode: `show version`, answered by the version and the prompt. */
export function haproxyWire(version: string): Wire {
  return { preface: "prompt\n", request: "show version\n", end: "\n> ", expect: version };
}

/** Redis `PING`. */
export const REDIS_WIRE: Wire = { request: "PING\r\n", end: "\r\n", expect: "+PONG" };

/** sockd's text dialect: `ping` answers `pong`. */
export const TEXT_WIRE: Wire = { request: "ping\n", end: "\n", expect: "pong" };

/** sockd's JSON lines: each call with its own id. */
export const JSONL_WIRE: Wire = {
  request: '{"id":{id},"command":"ping"}\n',
  end: "\n",
  expect: '"result":"pong"',
};

/** The raw Deno echo server: `ping\n` comes back as is. */
export const ECHO_WIRE: Wire = { request: "ping\n", end: "\n", expect: "ping" };
