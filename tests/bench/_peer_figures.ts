/**
 * Issue 18's throughput figures: sockd's text and JSON-lines dialects beside
 * HAProxy's runtime API, Redis and the raw Deno echo, every server driven by
 * the same C client (tests/bench/c/callbench.c) in the same run, repetitions
 * interleaved. Three shapes: strict request/response on one connection, 16
 * connections each strict, and 16 requests pipelined on one connection.
 *
 * @module
 */
import { buildCallbench, callsPerSecond, type Wire } from "./_c_client.ts";
import type { Env } from "./_env.ts";
import { interleave } from "./_figures.ts";
import { ECHO_WIRE, haproxyWire, JSONL_WIRE, REDIS_WIRE, TEXT_WIRE } from "./_peers.ts";
import { makeRow, naRow, type Row, type Target } from "./_row.ts";

/** A server the C client can drive, or why not. */
interface Side {
  name: string;
  label: string;
  socket?: string;
  wire?: Wire;
  na?: string;
}

type SideName = "text" | "jsonl" | "haproxy" | "redis" | "raw" | "node";

function sides(env: Env): Record<SideName, Side> {
  const { haproxy, redis } = env.peers;
  return {
    text: { name: "text", label: "sockd text", socket: env.sockd, wire: TEXT_WIRE },
    jsonl: { name: "jsonl", label: "sockd JSON lines", socket: env.sockd, wire: JSONL_WIRE },
    haproxy: haproxy.ok && env.haproxy
      ? {
        name: "haproxy",
        label: `HAProxy ${haproxy.version} runtime API, \`show version\` in prompt mode`,
        socket: env.haproxy,
        wire: haproxyWire(haproxy.version),
      }
      : { name: "haproxy", label: "HAProxy runtime API", na: haproxy.ok ? "not started" : haproxy.why },
    redis: redis.ok && env.redis
      ? { name: "redis", label: `Redis ${redis.version}, PING`, socket: env.redis, wire: REDIS_WIRE }
      : { name: "redis", label: "Redis PING", na: redis.ok ? "not started" : redis.why },
    raw: { name: "raw", label: "raw Deno echo, `ping\\n`", socket: env.rawEcho, wire: ECHO_WIRE },
    node: {
      name: "node",
      label: "JSON lines over node:net (tests/bench/node)",
      socket: env.node,
      wire: JSONL_WIRE,
    },
  };
}

/** One shape of load: how many connections, how deep each. */
interface Shape {
  conns: number;
  depth: number;
  /** How the figure column reads, e.g. "16 connections, strict". */
  text: string;
}

/** A row of a shape: the sockd side against one comparator. */
interface Pairing {
  id: string;
  sockd: "text" | "jsonl";
  against: Exclude<SideName, "text" | "jsonl">;
  target: Target;
}

/** Measures every side the pairings name (each once per repetition, interleaved) and builds the rows. */
async function measureShape(env: Env, shape: Shape, pairings: readonly Pairing[]): Promise<Row[]> {
  const all = sides(env);
  try {
    await buildCallbench();
  } catch (err) {
    return pairings.map((p) =>
      naRow({
        id: p.id,
        figure: `${shape.text}, ${all[p.sockd].label} (C client)`,
        unit: "calls/s",
        baseline: all[p.against].label,
        target: p.target,
      }, (err as Error).message)
    );
  }
  const names = [...new Set(pairings.flatMap((p) => [p.sockd, p.against]))];
  const live = names.map((n) => all[n]).filter((s) => s.na === undefined);
  const { window, reps } = env.config;
  const s = await interleave(
    reps,
    live.map((side) => ({
      name: side.name,
      sample: () =>
        callsPerSecond(
          { ...side.wire!, socket: side.socket!, conns: shape.conns, depth: shape.depth },
          window,
        ),
    })),
  );
  return pairings.map((p) => {
    const sockd = all[p.sockd];
    const peer = all[p.against];
    return makeRow({
      id: p.id,
      figure: `${shape.text}, ${sockd.label} (C client)`,
      unit: "calls/s",
      samples: s.get(p.sockd),
      baseline: peer.na === undefined ? peer.label : `${peer.label}: n/a: ${peer.na}`,
      baselineSamples: s.get(p.against) ?? [],
      target: p.target,
    });
  });
}

const NONE: Target = { kind: "none" };

/** Row ids of this file, in table order. */
export const PEER_IDS: readonly string[] = [
  "strict-1-haproxy",
  "strict-1-redis",
  "strict-1-jsonl",
  "strict-1-node",
  "conns-16-haproxy",
  "conns-16-jsonl",
  "conns-16-redis",
  "pipe-16-text",
  "pipe-16-jsonl",
  "pipe-16-raw",
  "pipe-16-node",
];

/** Strict request/response on one connection: no target, the peers beside. */
export function strictOne(env: Env): Promise<Row[]> {
  return measureShape(env, { conns: 1, depth: 1, text: "strict request/response, 1 connection" }, [
    { id: "strict-1-haproxy", sockd: "text", against: "haproxy", target: NONE },
    { id: "strict-1-redis", sockd: "text", against: "redis", target: NONE },
    { id: "strict-1-jsonl", sockd: "jsonl", against: "redis", target: NONE },
    { id: "strict-1-node", sockd: "jsonl", against: "node", target: NONE },
  ]);
}

/** 16 connections, each strict: sockd text ≥ 1.0× HAProxy's runtime API. */
export function sixteenConnections(env: Env): Promise<Row[]> {
  const target: Target = { kind: "ratio-at-least", value: 1.0 };
  return measureShape(env, { conns: 16, depth: 1, text: "16 connections, each strict" }, [
    { id: "conns-16-haproxy", sockd: "text", against: "haproxy", target },
    { id: "conns-16-jsonl", sockd: "jsonl", against: "haproxy", target: NONE },
    { id: "conns-16-redis", sockd: "text", against: "redis", target: NONE },
  ]);
}

/** 16 requests pipelined on one connection: text and JSON lines ≥ 0.8× Redis. */
export function pipelined(env: Env): Promise<Row[]> {
  const target: Target = { kind: "ratio-at-least", value: 0.8 };
  return measureShape(env, { conns: 1, depth: 16, text: "16 pipelined on 1 connection" }, [
    { id: "pipe-16-text", sockd: "text", against: "redis", target },
    { id: "pipe-16-jsonl", sockd: "jsonl", against: "redis", target },
    { id: "pipe-16-raw", sockd: "text", against: "raw", target: NONE },
    { id: "pipe-16-node", sockd: "jsonl", against: "node", target: NONE },
  ]);
}
