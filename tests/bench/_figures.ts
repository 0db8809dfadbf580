/**
 * The figures of `deno task bench`: each measures sockd beside its baseline
 * in the same run, repetitions interleaved so drift hits both alike.
 *
 * @module
 */
import { type Client, connect } from "../../lib/mod.ts";
import type { Env } from "./_env.ts";
import { type Step, throughput } from "./_measure.ts";
import { NODE, ROOT, runOutput, Scope } from "./_processes.ts";
import { type Driver, rawBulk, rawPingPong, rawPipelined } from "./_raw_clients.ts";
import { makeRow, type Row } from "./_row.ts";
import { JSONL_DIALECT, lineDialectDriver, minimalMsgpackDriver, TEXT_DIALECT } from "./_line_dialects.ts";

/** One side of a comparison: takes one sample per call. */
interface Contender {
  name: string;
  sample: () => Promise<number>;
}

/**
 * Takes `reps` samples of each contender, rotating the order every
 * repetition; returns the samples by name.
 */
export async function interleave(
  reps: number,
  contenders: readonly Contender[],
): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + r) % contenders.length]!;
      out.get(c.name)!.push(await c.sample());
    }
  }
  return out;
}

export function unaryStep(client: Client, command: string): Step {
  return () => client.call(command).result.then(() => 1);
}

export async function sockdClients(path: string, n: number, scope: Scope): Promise<Client[]> {
  const clients: Client[] = [];
  for (let i = 0; i < n; i++) {
    const c = await connect(path);
    scope.defer(() => c.close());
    clients.push(c);
  }
  const pong = await clients[0]!.call("ping").result;
  if (pong !== "pong") throw new Error(`sockd answered ping with ${JSON.stringify(pong)}`);
  return clients;
}

async function rawDrivers(make: () => Promise<Driver>, n: number, scope: Scope): Promise<Driver[]> {
  const drivers: Driver[] = [];
  for (let i = 0; i < n; i++) {
    const d = await make();
    scope.defer(() => d.close());
    drivers.push(d);
  }
  return drivers;
}

/** One run of the node:net JSON-lines peer's client: calls/s. */
async function nodeSample(env: Env, conns: number): Promise<number> {
  const { warmupMs, durationMs } = env.config.window;
  const out = await runOutput(NODE, [
    `${ROOT}tests/bench/node/jsonl_client.mjs`,
    env.node,
    String(conns),
    String(warmupMs),
    String(durationMs),
  ]);
  const { calls, seconds } = JSON.parse(out.trim().split("\n").pop()!) as { calls: number; seconds: number };
  return calls / seconds;
}

const RAW_PING = "raw Deno echo, 40 B ping-pong";
const NODE_PEER = "peer: JSON lines over node:net (node server + node client), unary ping";

/** Unary `ping` on one connection, strict request/response: msgpack, text, jsonl, the node peer, raw. */
export async function unaryOneConnection(env: Env): Promise<Row[]> {
  await using scope = new Scope();
  const { window, reps } = env.config;
  const [raw] = await rawDrivers(() => rawPingPong(env.rawEcho), 1, scope);
  const [client] = await sockdClients(env.sockd, 1, scope);
  const [minimal] = await rawDrivers(() => minimalMsgpackDriver(env.sockd), 1, scope);
  const text = await lineDialectDriver(env.sockd, TEXT_DIALECT);
  const jsonl = await lineDialectDriver(env.sockd, JSONL_DIALECT);
  for (const d of [text, jsonl]) if (d.driver) scope.defer(() => d.driver!.close());
  const contenders: Contender[] = [
    { name: "raw", sample: () => throughput(window, [raw!.step]) },
    { name: "msgpack", sample: () => throughput(window, [unaryStep(client!, "ping")]) },
    { name: "minimal", sample: () => throughput(window, [minimal!.step]) },
    { name: "node", sample: () => nodeSample(env, 1) },
  ];
  if (text.driver) contenders.push({ name: "text", sample: () => throughput(window, [text.driver!.step]) });
  if (jsonl.driver) {
    contenders.push({
      name: "jsonl",
      sample: () => throughput(window, [jsonl.driver!.step]),
    });
  }
  const s = await interleave(reps, contenders);
  const msgpack = s.get("msgpack")!;
  const vsMsgpack = {
    kind: "ratio-at-least",
    value: 1 / 1.5,
    text: "within 1.5× of msgpack (≥ 0.67×)",
  } as const;
  return [
    makeRow({
      id: "unary-1",
      figure: "unary ping, msgpack, 1 connection, strict",
      unit: "calls/s",
      samples: msgpack,
      baseline: RAW_PING,
      baselineSamples: s.get("raw")!,
      target: { kind: "ratio-at-least", value: 0.8 },
    }),
    makeRow({
      id: "text",
      figure: "unary ping, text dialect, 1 connection",
      unit: "calls/s",
      samples: s.get("text"),
      baseline: "msgpack, same run",
      baselineSamples: msgpack,
      target: vsMsgpack,
      na: text.na,
    }),
    makeRow({
      id: "jsonl",
      figure: "unary ping, jsonl dialect, 1 connection",
      unit: "calls/s",
      samples: s.get("jsonl"),
      baseline: "msgpack, same run",
      baselineSamples: msgpack,
      target: vsMsgpack,
      na: jsonl.na,
    }),
    makeRow({
      id: "unary-1-minimal",
      figure: "unary ping, msgpack, 1 connection, strict, minimal client (no client library)",
      unit: "calls/s",
      samples: s.get("minimal")!,
      baseline: RAW_PING,
      baselineSamples: s.get("raw")!,
      target: { kind: "none" },
      note: "Diagnostic, not a target: the same call through a 30-line client written on the socket " +
        "(as the text and jsonl rows are), to tell the server's cost from lib/client.ts's.",
    }),
    makeRow({
      id: "node-jsonl-1",
      figure: `${NODE_PEER}, 1 connection`,
      unit: "calls/s",
      samples: s.get("node")!,
      baseline: RAW_PING,
      baselineSamples: s.get("raw")!,
      target: { kind: "none" },
      note: "Not a target: what a JavaScript user would otherwise write. Compare its ratio with sockd's.",
    }),
  ];
}

/** Unary `ping` on 16 connections at once, each strict request/response. */
export async function unarySixteenConnections(env: Env): Promise<Row[]> {
  await using scope = new Scope();
  const { window, reps } = env.config;
  const raw = await rawDrivers(() => rawPingPong(env.rawEcho), 16, scope);
  const clients = await sockdClients(env.sockd, 16, scope);
  const s = await interleave(reps, [
    { name: "raw", sample: () => throughput(window, raw.map((d) => d.step)) },
    { name: "msgpack", sample: () => throughput(window, clients.map((c) => unaryStep(c, "ping"))) },
    { name: "node", sample: () => nodeSample(env, 16) },
  ]);
  return [
    makeRow({
      id: "unary-16",
      figure: "unary ping, msgpack, 16 connections, strict",
      unit: "calls/s",
      samples: s.get("msgpack")!,
      baseline: `${RAW_PING} ×16`,
      baselineSamples: s.get("raw")!,
      target: { kind: "ratio-at-least", value: 0.7 },
    }),
    makeRow({
      id: "node-jsonl-16",
      figure: `${NODE_PEER}, 16 connections`,
      unit: "calls/s",
      samples: s.get("node")!,
      baseline: `${RAW_PING} ×16`,
      baselineSamples: s.get("raw")!,
      target: { kind: "none" },
    }),
  ];
}

/** 64 calls in flight on one connection (multiplexed) against raw pipelined echo. */
export async function multiplexed(env: Env): Promise<Row[]> {
  await using scope = new Scope();
  const { window, reps } = env.config;
  const inFlight = 64;
  const [raw] = await rawDrivers(() => rawPipelined(env.rawEcho, inFlight), 1, scope);
  const [client] = await sockdClients(env.sockd, 1, scope);
  const step = unaryStep(client!, "ping");
  const s = await interleave(reps, [
    { name: "raw", sample: () => throughput(window, [raw!.step]) },
    { name: "msgpack", sample: () => throughput(window, Array.from({ length: inFlight }, () => step)) },
  ]);
  return [makeRow({
    id: "mux-64",
    figure: "ping, msgpack, 64 calls in flight on 1 connection, lib/client.ts",
    unit: "calls/s",
    samples: s.get("msgpack")!,
    baseline: "raw Deno pipelined echo, 64 × 40 B in flight",
    baselineUnit: "msgs/s",
    baselineSamples: s.get("raw")!,
    target: { kind: "ratio-at-least", value: 0.5 },
    note: "Through lib/client.ts, what the CLI and embedders use (issue 18: ≥ 0.5× the raw pipelined echo).",
  })];
}

/** Streaming a large output (1 GiB; 128 MiB with --quick) to the client, against raw bulk. */
export async function streaming(env: Env): Promise<Row[]> {
  await using scope = new Scope();
  const { streamBytes, reps } = env.config;
  const [client] = await sockdClients(env.sockd, 1, scope);
  const sockdSample = async (bytes: number) => {
    const t0 = performance.now();
    const call = client!.call("bench-blob", ["--bytes", String(bytes)]);
    let got = 0;
    for await (const chunk of call) got += (chunk as Uint8Array).length;
    await call.result;
    const seconds = (performance.now() - t0) / 1000;
    if (got !== bytes) throw new Error(`bench-blob streamed ${got} of ${bytes} bytes`);
    return bytes / seconds;
  };
  // Warm both paths up on an eighth of the size first.
  await rawBulk(env.rawBulk, streamBytes / 8);
  await sockdSample(streamBytes / 8);
  const s = await interleave(reps, [
    { name: "raw", sample: () => rawBulk(env.rawBulk, streamBytes) },
    { name: "sockd", sample: () => sockdSample(streamBytes) },
  ]);
  const size = `${streamBytes / 1024 / 1024} MiB`;
  return [makeRow({
    id: "stream",
    figure: `streaming ${size} of output to the client (64 KiB chunks)`,
    unit: "B/s",
    samples: s.get("sockd")!,
    baseline: "raw Deno bulk write, 64 KiB writes",
    baselineSamples: s.get("raw")!,
    target: { kind: "ratio-at-least", value: 0.6 },
    note: env.config.quick ? `--quick streams ${size}, not 1 GiB.` : undefined,
  })];
}
