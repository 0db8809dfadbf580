/**
 * The cost of an adopted socket: the same sockd serving a socket systemd
 * passed (`systemd-socket-activate`; connections are `node:net` sockets read
 * through lib/_node_transport.ts) beside the main server's own socket
 * (connections are `Deno.Conn`s), in the same run.
 *
 * @module
 */
import type { Env } from "./_env.ts";
import { interleave, sockdClients, unaryStep } from "./_figures.ts";
import { throughput } from "./_measure.ts";
import { DENO, ROOT, Scope, spawnServer } from "./_processes.ts";
import { makeRow, type Row } from "./_row.ts";

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
  const own = await sockdClients(env.sockd, 16, scope);
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
      baseline: "the same on a socket sockd bound itself (Deno.Conn), same run",
      baselineSamples: s.get(`own-${key}`)!,
      target: { kind: "none" },
      note: "Diagnostic: sockets systemd passes are read through node:net (Deno cannot make a Deno.Conn " +
        "of a descriptor); sockets sockd binds keep Deno.Conn.",
    });
  return [
    row("adopted-1", "unary ping, msgpack, 1 connection, socket from systemd", "calls/s", "1"),
    row("adopted-16", "unary ping, msgpack, 16 connections, socket from systemd", "calls/s", "16"),
    row(
      "adopted-stream",
      `streaming ${streamSize / 1024 / 1024} MiB, socket from systemd`,
      "B/s",
      "stream",
    ),
  ];
}
