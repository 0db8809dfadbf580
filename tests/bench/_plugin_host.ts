/**
 * The plugin-host figures: a plugin call through its host process against
 * the same command inline, how long a host takes to start, and what hosts
 * cost in memory (RSS, and PSS, which shares the runtime's pages fairly
 * among the processes that map them).
 *
 * Memory is read with `ps` and `cat` (tests/bench/_rss.ts).
 *
 * @module
 */
import { connect } from "../../lib/client.ts";
import { silentLogger } from "../../lib/log.ts";
import { DEFAULT_SANDBOX_OPTIONS } from "../../lib/runner/host_options.ts";
import { PluginHost } from "../../lib/runner/plugin_host.ts";
import { PluginState } from "../../lib/runner/state.ts";
import { type Env, socketPath, spawnSockd } from "./_env.ts";
import { interleave, sockdClients, unaryStep } from "./_figures.ts";
import { throughput } from "./_measure.ts";
import { spawnHaproxy, spawnRedis } from "./_peers.ts";
import { ROOT, Scope, timeRun } from "./_processes.ts";
import { processTree, pssOf, rssOf } from "./_rss.ts";
import { makeRow, type Row } from "./_row.ts";
import { sleep } from "./_stats.ts";

/** Starts a server whose bench plugin runs in a host process (the default). */
async function hostServer(env: Env, scope: Scope): Promise<string> {
  const dir = `${env.dir}/plugins-host`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.copyFile(`${ROOT}tests/bench/fixtures/bench_commands.ts`, `${dir}/bench_commands.ts`);
  const path = socketPath(env.dir, "sockd-host");
  await spawnSockd({ scope, profileDir: env.profileDir }, "plugin-host", path, ["--plugins", dir]);
  return path;
}

/** A plugin command through its host against the same command inline, on 1 and on 16 connections. */
export async function pluginHostCalls(env: Env): Promise<Row[]> {
  await using scope = new Scope();
  const { window, reps } = env.config;
  const hosted = await hostServer(env, scope);
  const rows: Row[] = [];
  for (const conns of [1, 16]) {
    const inline = await sockdClients(env.sockd, conns, scope);
    const host = await sockdClients(hosted, conns, scope);
    const s = await interleave(reps, [
      { name: "inline", sample: () => throughput(window, inline.map((c) => unaryStep(c, "bench-ping"))) },
      { name: "host", sample: () => throughput(window, host.map((c) => unaryStep(c, "bench-ping"))) },
    ]);
    rows.push(makeRow({
      id: `plugin-host-${conns}`,
      figure: `unary call to a plugin in its host process, ${conns} connection${conns > 1 ? "s" : ""}`,
      unit: "calls/s",
      samples: s.get("host")!,
      baseline: 'the same plugin command inline ("sandbox": "inline")',
      baselineSamples: s.get("inline")!,
      target: { kind: "ratio-at-least", value: 0.5 },
    }));
  }
  return rows;
}

/** Time from starting a host to its plugin answering `loaded`, against `deno run` of an empty script. */
export async function hostStart(env: Env): Promise<Row[]> {
  const { coldRuns } = env.config;
  const dir = `${env.dir}/plugins-start`;
  await Deno.mkdir(dir, { recursive: true });
  const file = `${dir}/bench_commands.ts`;
  await Deno.copyFile(`${ROOT}tests/bench/fixtures/bench_commands.ts`, file);
  const start = async () => {
    const t0 = performance.now();
    const host = await PluginHost.load({
      file,
      grants: {},
      configFile: `${dir}/sockd.json`,
      state: new PluginState(),
      view: () => ({ name: "sockd", version: "bench", commands: [] }),
      logger: silentLogger,
      options: DEFAULT_SANDBOX_OPTIONS,
    });
    const ms = performance.now() - t0;
    host.close();
    return ms;
  };
  const empty = ["run", "-q", `${ROOT}tests/bench/fixtures/empty.ts`];
  for (let i = 0; i < 2; i++) {
    await start();
    await timeRun("deno", empty);
  }
  const s = await interleave(coldRuns, [
    { name: "empty", sample: () => timeRun("deno", empty) },
    { name: "host", sample: start },
  ]);
  return [makeRow({
    id: "host-start",
    figure: "plugin host start: spawn to plugin loaded (import check, process, worker, plugin)",
    unit: "ms",
    samples: s.get("host")!,
    baseline: "`deno run` of an empty script",
    baselineSamples: s.get("empty")!,
    target: { kind: "at-most", value: 100 },
  })];
}

/**
 * Memory of an idle server with the example plugins: per host (RSS, PSS)
 * and in all (the server and every process below it, so hosts count however
 * they are started), against the same server with no plugins, and beside
 * idle HAProxy and Redis (fresh processes, same repetitions).
 */
export async function hostMemory(env: Env): Promise<Row[]> {
  const { memoryReps } = env.config;
  const sample = async (withPlugins: boolean) => {
    await using scope = new Scope();
    const path = socketPath(env.dir, withPlugins ? "mem-examples" : "mem-bare");
    const args = withPlugins ? ["--plugins", `${ROOT}examples/cmds`] : [];
    const server = await spawnSockd({ scope, profileDir: undefined }, "memory", path, args);
    const client = await connect(path);
    // What an operator's first look does: the command list (help and completion read it).
    await client.call("help").result;
    await sleep(500);
    const tree = await processTree(server.pid);
    const hosts = tree.filter((p) => p.pid !== server.pid);
    const hostPss = await Promise.all(hosts.map((h) => pssOf(h.pid)));
    const totalPss = (await pssOf(server.pid)) + hostPss.reduce((a, b) => a + b, 0);
    // Plugin hosts start on first use: one call starts greet's, whose size is what each running host costs.
    let running = { rss: NaN, pss: NaN };
    if (withPlugins) {
      await client.call("greet").result;
      await sleep(500);
      const started = (await processTree(server.pid)).filter((p) => p.pid !== server.pid);
      if (started.length > 0) running = { rss: started[0]!.rss, pss: await pssOf(started[0]!.pid) };
    }
    client.close();
    return {
      hosts: hosts.length,
      rss: running.rss,
      pss: running.pss,
      total: tree.reduce((a, p) => a + p.rss, 0),
      totalPss,
    };
  };
  const peer = async (kind: "haproxy" | "redis") => {
    await using scope = new Scope();
    const path = socketPath(env.dir, `mem-idle-${kind}`);
    const proc = kind === "haproxy"
      ? await spawnHaproxy(scope, env.dir, path)
      : await spawnRedis(scope, env.dir, path);
    await sleep(500);
    // Awaited here: the scope stops the peer as this block ends.
    return await rssOf(proc.pid);
  };
  const bare: number[] = [],
    rss: number[] = [],
    pss: number[] = [],
    total: number[] = [],
    totalPss: number[] = [],
    haproxy: number[] = [],
    redis: number[] = [];
  let hosts = 0;
  for (let i = 0; i < memoryReps; i++) {
    bare.push((await sample(false)).total);
    const m = await sample(true);
    hosts = m.hosts;
    rss.push(m.rss);
    pss.push(m.pss);
    total.push(m.total);
    totalPss.push(m.totalPss);
    if (env.peers.haproxy.ok) haproxy.push(await peer("haproxy"));
    if (env.peers.redis.ok) redis.push(await peer("redis"));
  }
  const base = {
    baseline: "idle server, no plugins (RSS)",
    baselineSamples: bare,
    target: { kind: "none" as const },
  };
  const examples =
    `idle server with the example plugins (examples/cmds): server + ${hosts} host process(es), RSS`;
  const limit = { kind: "at-most", value: 60 * 1024 * 1024 } as const;
  const peerBaseline = (kind: "haproxy" | "redis", name: string) => {
    const p = env.peers[kind];
    return p.ok ? `idle ${name} (RSS)` : `${name}: n/a: ${p.why}`;
  };
  return [
    makeRow({
      id: "host-rss",
      figure: "RSS of one running plugin host (after one call), idle",
      unit: "B",
      samples: rss,
      ...base,
    }),
    makeRow({
      id: "host-pss",
      figure: "PSS of one running plugin host (after one call), idle",
      unit: "B",
      samples: pss,
      ...base,
    }),
    makeRow({
      id: "examples-rss",
      figure: examples,
      unit: "B",
      samples: total,
      ...base,
      target: limit,
      note: "After one `help` call, 0.5 s idle. Hosts are every process below the server (ps).",
    }),
    makeRow({
      id: "examples-rss-haproxy",
      figure: examples,
      unit: "B",
      samples: total,
      baseline: peerBaseline("haproxy", "HAProxy"),
      baselineSamples: haproxy,
      target: limit,
    }),
    makeRow({
      id: "examples-rss-redis",
      figure: examples,
      unit: "B",
      samples: total,
      baseline: peerBaseline("redis", "Redis"),
      baselineSamples: redis,
      target: limit,
    }),
    makeRow({
      id: "examples-pss",
      figure: `idle server with the example plugins: server + ${hosts} host process(es), PSS`,
      unit: "B",
      samples: totalPss,
      ...base,
      note: "PSS divides pages shared between the processes (the deno binary, its snapshot) among them.",
    }),
  ];
}
