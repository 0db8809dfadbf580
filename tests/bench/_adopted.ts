/**
 * The cost of `node:net` sockets: `sockd serve` on a socket systemd passed
 * (`systemd-socket-activate`; its connections are `node:net` sockets read
 * through lib/_node_transport.ts, as are those of the sockets `sockd serve`
 * binds, since issue 13 made them movable) beside the library's `serve()`
 * without `movable` (tests/bench/deno_conn_server.ts: `Deno.Conn`s), with the
 * same commands, in the same run; and the memory each holds per idle
 * connection.
 *
 * @module
 */
import { connect } from "../../lib/mod.ts";
import { type Env, socketPath, spawnSockd } from "./_env.ts";
import { interleave, sockdClients, unaryStep } from "./_figures.ts";
import { idleSample, msgpackHello } from "./_connection_memory.ts";
import { throughput } from "./_measure.ts";
import { DENO, ROOT, Scope, type ServerProc, spawnServer } from "./_processes.ts";
import { makeRow, type Row } from "./_row.ts";

/** The comparator: the library's serve() on Deno.Conn, with the sockd permission set. */
function spawnDenoConn(scope: Scope, path: string): Promise<ServerProc> {
  return spawnServer(scope, "library serve() (Deno.Conn)", {
    cmd: DENO,
    args: ["run", "-q", "-P=sockd", `${ROOT}tests/bench/deno_conn_server.ts`, path],
    sockets: [path],
  });
}

/** What the rows compare against. */
const BASELINE = "library serve() without movable (Deno.Conn), same commands, same run";

const ACTIVATE = "systemd-socket-activate";

/** A sockd server started by systemd-socket-activate on `path` (named "bench"), with the bench plugins. */
function spawnActivated(env: Env, scope: Scope, path: string) {
  return spawnServer(scope, "sockd serve (socket from systemd)", {
    cmd: ACTIVATE,
    args: [
      "-l",
      path,
      "--fdname=bench",
      DENO,
      "run",
      "-q",
      "-P=sockd",
      `${ROOT}main.ts`,
      "serve",
      "--listen",
      "fd:bench,access=admin",
      "--plugins",
      env.pluginDir,
    ],
    sockets: [path],
  });
}

/** Unary ping on 1 and 16 connections and a stream, on a passed socket against the main server's own. */
export async function adoptedSocket(env: Env): Promise<Row[]> {
  await using scope = new Scope();
  const { window, reps, streamBytes } = env.config;
  const path = `${env.dir}/activated.sock`;
  await spawnActivated(env, scope, path);
  const denoConn = socketPath(env.dir, "deno-conn");
  await spawnDenoConn(scope, denoConn);
  const own = await sockdClients(denoConn, 16, scope);
  const adopted = await sockdClients(path, 16, scope);
  const stream = (client: (typeof own)[number], bytes: number) => async () => {
    const t0 = performance.now();
    const call = client.call("bench-blob", ["--bytes", String(bytes)]);
    let got = 0;
    for await (const chunk of call) got += (chunk as Uint8Array).length;
    await call.result;
    if (got !== bytes) throw new Error(`bench-blob streamed ${got} of ${bytes} bytes`);
    return bytes / ((performance.now() - t0) / 1000);
  };
  const streamSize = Math.min(streamBytes, 256 * 1024 * 1024);
  await stream(adopted[0]!, streamSize / 8)();
  await stream(own[0]!, streamSize / 8)();
  const s = await interleave(reps, [
    { name: "own-1", sample: () => throughput(window, [unaryStep(own[0]!, "ping")]) },
    { name: "adopted-1", sample: () => throughput(window, [unaryStep(adopted[0]!, "ping")]) },
    { name: "own-16", sample: () => throughput(window, own.map((c) => unaryStep(c, "ping"))) },
    { name: "adopted-16", sample: () => throughput(window, adopted.map((c) => unaryStep(c, "ping"))) },
    { name: "own-stream", sample: stream(own[0]!, streamSize) },
    { name: "adopted-stream", sample: stream(adopted[0]!, streamSize) },
  ]);
  const row = (id: string, figure: string, unit: "calls/s" | "B/s", key: string) =>
    makeRow({
      id,
      figure,
      unit,
      samples: s.get(`adopted-${key}`)!,
      baseline: BASELINE,
      baselineSamples: s.get(`own-${key}`)!,
      target: { kind: "none" },
      note: "Diagnostic: sockd serve reads every socket through node:net (a socket systemd passes because " +
        "Deno cannot make a Deno.Conn of a descriptor, the sockets it binds so that an upgrade can move " +
        "their connections); the library's serve() keeps Deno.Conn unless given movable.",
    });
  const on = "sockd serve, socket from systemd (node:net)";
  return [
    row("adopted-1", `unary ping, msgpack, 1 connection, ${on}`, "calls/s", "1"),
    row("adopted-16", `unary ping, msgpack, 16 connections, ${on}`, "calls/s", "16"),
    row("adopted-stream", `streaming ${streamSize / 1024 / 1024} MiB, ${on}`, "B/s", "stream"),
  ];
}

/** Memory per idle connection (msgpack greeting read), `sockd serve` (node:net) against Deno.Conn. */
export async function adoptedMemory(env: Env): Promise<Row[]> {
  const { memoryReps, idleConnections: n } = env.config;
  const sides = {
    node: (scope: Scope, path: string) =>
      spawnSockd({ scope, profileDir: undefined }, "memory", path, ["--plugins", env.pluginDir]),
    denoConn: spawnDenoConn,
  };
  const s = await interleave(
    memoryReps,
    Object.entries(sides).map(([name, spawn]) => ({
      name,
      sample: async () => {
        // A fresh server each time, warmed up as the idle-memory rows do, so the growth is per-connection state.
        await using scope = new Scope();
        const path = socketPath(env.dir, `mem-${name}`);
        const server = await spawn(scope, path);
        const probe = await connect(path);
        for (let i = 0; i < 200; i++) await probe.call("ping").result;
        probe.close();
        return (await idleSample(scope, server, path, msgpackHello, { n, waitMs: 0 })).perConn;
      },
    })),
  );
  return [makeRow({
    id: "adopted-memory",
    figure: `memory per idle connection (${n.toLocaleString("en-US")} connections, msgpack greeting read), ` +
      "sockd serve (node:net; a socket from systemd is read the same way)",
    unit: "B/conn",
    samples: s.get("node")!,
    baseline: BASELINE,
    baselineSamples: s.get("denoConn")!,
    target: { kind: "none" },
    note: `Fresh servers per repetition (${memoryReps}), as idle-memory.`,
  })];
}
