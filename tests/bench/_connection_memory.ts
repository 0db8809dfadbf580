/**
 * Memory per idle connection, and whether it comes back: a fresh server per
 * repetition, warmed up, then 1,000 connections opened and left idle; its
 * RSS growth / 1,000. Then they close, and what RSS keeps of the growth is
 * the "returned" figure. sockd is measured twice: idle after its msgpack
 * greeting (nothing called), and idle after one text `ping`; HAProxy's
 * runtime API (after `prompt` and `show version`) and Redis (after `PING`)
 * are measured the second way, the raw Deno echo the first.
 *
 * RSS is read with `ps` for every server alike (VmRSS).
 *
 * @module
 */
import { connect } from "../../lib/mod.ts";
import { type Env, socketPath, spawnRaw, spawnSockd } from "./_env.ts";
import { interleave } from "./_figures.ts";
import { spawnHaproxy, spawnRedis } from "./_peers.ts";
import { Scope, type ServerProc } from "./_processes.ts";
import { closeAll, openIdle, readFull, writeAll } from "./_raw_clients.ts";
import { rssOf, settled } from "./_rss.ts";
import { makeRow, type Row } from "./_row.ts";
import { formatBytes, median, sleep } from "./_stats.ts";

/** The preface a msgpack client sends first (kept here so the figure does not lean on the client library). */
const MSGPACK_PREFACE = new Uint8Array([0x00, 0x53, 0x4f, 0x43, 0x4b, 0x44, 0x00, 0x01]);

/** Reads a full msgpack hello frame (u32 length + body) after the preface. */
export async function msgpackHello(conn: Deno.UnixConn) {
  await writeAll(conn, MSGPACK_PREFACE);
  const head = new Uint8Array(4);
  await readFull(conn, head);
  await readFull(conn, new Uint8Array(new DataView(head.buffer).getUint32(0)));
}

const encoder = new TextEncoder();

/** Sends `request` and reads until the bytes read end with `end` (answers are small). */
function call(request: string, end: string) {
  const req = encoder.encode(request);
  const tail = encoder.encode(end);
  return async (conn: Deno.UnixConn) => {
    await writeAll(conn, req);
    const buf = new Uint8Array(4096);
    let got = 0;
    while (true) {
      const n = await conn.read(buf.subarray(got));
      if (n === null) throw new Error(`the server closed the connection after ${JSON.stringify(request)}`);
      got += n;
      const endsWell = got >= tail.length && tail.every((b, i) => buf[got - tail.length + i] === b);
      if (endsWell) return;
      if (got === buf.length) throw new Error(`answer to ${JSON.stringify(request)} longer than 4 KiB`);
    }
  };
}

const textPing = call("ping\n", "pong\n");
const redisPing = call("PING\r\n", "+PONG\r\n");
const haproxyPrompt = call("prompt\n", "\n> ");
const haproxyVersion = call("show version\n", "\n> ");
async function haproxyCall(conn: Deno.UnixConn) {
  await haproxyPrompt(conn);
  await haproxyVersion(conn);
}
async function rawByte(conn: Deno.UnixConn) {
  await writeAll(conn, new Uint8Array([0x61]));
  await readFull(conn, new Uint8Array(1));
}

type Kind = "sockd-hello" | "sockd-call" | "haproxy" | "redis" | "raw";

/** What one repetition measured, in bytes. */
export interface Sample {
  perConn: number;
  /** RSS growth with the connections open. */
  grown: number;
  /** RSS above the start once they closed. */
  kept: number;
}

async function sample(env: Env, kind: Kind): Promise<Sample> {
  await using scope = new Scope();
  const n = env.config.idleConnections;
  const path = socketPath(env.dir, `mem-${kind}`);
  let server: ServerProc;
  let handshake: (conn: Deno.UnixConn) => Promise<void>;
  if (kind === "sockd-hello" || kind === "sockd-call") {
    server = await spawnSockd({ scope, profileDir: undefined }, "memory", path, ["--plugins", env.pluginDir]);
    const probe = await connect(path);
    // Warm up: JIT the call path, so the delta is per-connection state.
    for (let i = 0; i < 200; i++) await probe.call("ping").result;
    probe.close();
    handshake = kind === "sockd-hello" ? msgpackHello : textPing;
  } else if (kind === "haproxy") {
    server = await spawnHaproxy(scope, env.dir, path);
    handshake = haproxyCall;
  } else if (kind === "redis") {
    server = await spawnRedis(scope, env.dir, path);
    handshake = redisPing;
  } else {
    server = await spawnRaw(scope, env.dir, { echo: path });
    handshake = rawByte;
  }
  // How long the memory-returned figure waits: V8's memory reducer acts after ~8 s of low allocation, so a
  // Deno server cannot be expected to give memory back sooner. The figure only waits on the kinds it reports.
  const waitMs = kind === "sockd-hello" || kind === "raw" ? 0 : RETURN_WAIT_MS;
  return await idleSample(scope, server, path, handshake, { n, waitMs });
}

/**
 * One running server's RSS growth per idle connection: `n` connections
 * opened (each after `handshake`) and left idle; then, once they close, what
 * RSS keeps of the growth, read for up to `waitMs`.
 */
export async function idleSample(
  scope: Scope,
  server: ServerProc,
  path: string,
  handshake: (conn: Deno.UnixConn) => Promise<void>,
  { n, waitMs }: { n: number; waitMs: number },
): Promise<Sample> {
  const rss = () => rssOf(server.pid);
  // Warm up the accept and session paths too, until they are hot: with 20 connections, the 1,000 made
  // V8 compile them (optimizing tiers), which touched 3.2-4.7 MiB more of the deno binary's code, once
  // per process, counted as 3-4.7 KiB per connection (sockd serve, msgpack greeting: 9.6-11.5 KiB/conn
  // after 20, 5.9 after 300). The same for every server.
  closeAll(await openIdle(path, WARM_CONNECTIONS, handshake));
  await sleep(QUIET_MS);
  const before = await settled(rss);
  const conns = await openIdle(path, n, handshake);
  scope.defer(() => closeAll(conns));
  await sleep(QUIET_MS);
  const open = await settled(rss);
  closeAll(conns);
  const grown = open - before;
  const end = Date.now() + waitMs;
  let after = await settled(rss, 3);
  while (after - before > grown / 2 && Date.now() < end) {
    await sleep(500);
    after = await settled(rss, 3);
  }
  return { perConn: grown / n, grown, kept: after - before };
}

/**
 * How long RSS waits after connections open or close before it is read: a
 * server's steady state, idle housekeeping included (sockd serve gives memory
 * back after 2 s without connections coming or going; lib/cli/_idle_memory.ts).
 * The same wait for every server. Was 1 s: then sockd's per-connection figure
 * counted garbage of the accepts (15.7 and 10.2 KiB/conn in two quick runs, 1 s and 3 s).
 */
const QUIET_MS = 3000;

/** Connections opened and closed before the figure, on every server (see `idleSample`). */
const WARM_CONNECTIONS = 300;

/** The longest the memory-returned figure waits after the connections close. */
const RETURN_WAIT_MS = 10_000;

/** Peers that are not installed (or did not start in setUp) print n/a in their rows. */
function peerNa(env: Env, kind: "haproxy" | "redis"): string | undefined {
  const p = env.peers[kind];
  return p.ok ? undefined : p.why;
}

/** Row ids of this file, in table order. */
export const CONNECTION_MEMORY_IDS: readonly string[] = [
  "idle-memory",
  "idle-memory-haproxy",
  "idle-memory-redis",
  "closed-memory",
];

/** Per idle connection (after the greeting, and after one call) and what comes back after close. */
export async function connectionMemory(env: Env): Promise<Row[]> {
  const { memoryReps, idleConnections: n } = env.config;
  const kinds: Kind[] = ["raw", "sockd-hello", "sockd-call"];
  const haproxyNa = peerNa(env, "haproxy");
  const redisNa = peerNa(env, "redis");
  if (!haproxyNa) kinds.push("haproxy");
  if (!redisNa) kinds.push("redis");
  const all = new Map<string, Sample[]>(kinds.map((k) => [k, []]));
  await interleave(
    memoryReps,
    kinds.map((k) => ({
      name: k,
      sample: async () => {
        const s = await sample(env, k);
        all.get(k)!.push(s);
        return s.perConn;
      },
    })),
  );
  const per = (k: Kind) => (all.get(k) ?? []).map((s) => s.perConn);
  const conns = n.toLocaleString("en-US");
  const target = { kind: "at-most", value: 8 * 1024 } as const;
  const kept = (k: Kind) => {
    const s = all.get(k) ?? [];
    return s.length
      ? `${formatBytes(median(s.map((x) => x.kept)))} of ${formatBytes(median(s.map((x) => x.grown)))}`
      : "n/a";
  };
  return [
    makeRow({
      id: "idle-memory",
      figure: `memory per idle connection (${conns} connections, msgpack greeting read, nothing called)`,
      unit: "B/conn",
      samples: per("sockd-hello"),
      baseline: "raw Deno echo server, 16 KiB read buffer each",
      baselineSamples: per("raw"),
      target,
    }),
    makeRow({
      id: "idle-memory-haproxy",
      figure: `memory per idle connection (${conns} connections, after one text \`ping\` each)`,
      unit: "B/conn",
      samples: per("sockd-call"),
      baseline: haproxyNa
        ? `HAProxy: n/a: ${haproxyNa}`
        : "HAProxy runtime API, after `prompt` and `show version`",
      baselineSamples: per("haproxy"),
      target,
    }),
    makeRow({
      id: "idle-memory-redis",
      figure: `memory per idle connection (${conns} connections, after one text \`ping\` each)`,
      unit: "B/conn",
      samples: per("sockd-call"),
      baseline: redisNa ? `Redis: n/a: ${redisNa}` : "Redis, after one `PING`",
      baselineSamples: per("redis"),
      target,
    }),
    makeRow({
      id: "closed-memory",
      figure: `RSS kept after the ${conns} connections (one text \`ping\` each) closed`,
      unit: "B",
      samples: (all.get("sockd-call") ?? []).map((s) => s.kept),
      baseline: "RSS growth while they were open, same server",
      baselineSamples: (all.get("sockd-call") ?? []).map((s) => s.grown),
      target: { kind: "ratio-at-most", value: 0.5, text: "≤ 0.5× (at least half returned)" },
      note:
        `Fresh servers per repetition (${memoryReps}); after closing, RSS read until half the growth is back or ${
          RETURN_WAIT_MS / 1000
        } s have passed. Kept of grown: ` +
        `sockd ${kept("sockd-call")}, sockd (greeting only) ${kept("sockd-hello")}, HAProxy ${
          kept("haproxy")
        }, ` +
        `Redis ${kept("redis")}, raw Deno ${kept("raw")}.`,
    }),
  ];
}
