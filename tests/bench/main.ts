/**
 * `deno task bench`: holds sockd against its peers (HAProxy's runtime API,
 * Redis) and the raw socket on the same machine, in the same process tree,
 * and prints each figure beside its comparator with the ratio and the
 * target. A JSON copy goes to `bench-results.json` (or `--out PATH`).
 *
 *     deno task bench                 # full run, a few minutes on 2 cores
 *     deno task bench --quick         # a few minutes; streams 128 MiB instead of 1 GiB
 *     deno task bench --pin           # everything on one CPU: figures are CPU cost per call
 *     deno task bench --only pipe-16-text,stream --out /tmp/b.json
 *     deno task bench --profile /tmp/prof   # V8 CPU profiles of the sockd servers
 *
 * Servers under test run as separate processes (`sockd serve` through
 * main.ts with the `sockd` permission set, HAProxy, Redis, the raw echo
 * server, the node peer); the C client (tests/bench/c/callbench.c, built on
 * first use) drives every server alike, the library clients run here.
 * Bench-only dependencies (gcc's build, the peers) are never needed by
 * `deno task test`. Benchmarks, not tests: nothing fails on speed.
 *
 * @module
 */
import { type Config, type Env, FULL, QUICK, setUp } from "./_env.ts";
import { multiplexed, streaming, unaryOneConnection, unarySixteenConnections } from "./_figures.ts";
import { PEER_IDS, pipelined, sixteenConnections, strictOne } from "./_peer_figures.ts";
import { CONNECTION_MEMORY_IDS, connectionMemory } from "./_connection_memory.ts";
import { COLD_IDS, coldCall } from "./_cold.ts";
import { findPeers } from "./_peers.ts";
import { pinSelf } from "./_pin.ts";
import { summarizeProfiles } from "./_cpuprofile.ts";
import { hostMemory, hostStart, pluginHostCalls } from "./_plugin_host.ts";
import { FLEET_IDS, fleetFanOut } from "./_fleet.ts";
import { adoptedMemory, adoptedSocket } from "./_adopted.ts";
import { streamingLent } from "./_stream_lend.ts";
import { cliStreaming } from "./_cli_stream.ts";
import { NODE, runOutput, Scope } from "./_processes.ts";
import { makeRow, type Row } from "./_row.ts";
import { renderNotes, renderTable } from "./_table.ts";

/** A group of rows measured together, in table order. */
interface Figure {
  ids: string[];
  run: (env: Env) => Promise<Row[]>;
}

const FIGURES: readonly Figure[] = [
  { ids: PEER_IDS.filter((id) => id.startsWith("strict-")), run: strictOne },
  { ids: PEER_IDS.filter((id) => id.startsWith("conns-")), run: sixteenConnections },
  { ids: PEER_IDS.filter((id) => id.startsWith("pipe-")), run: pipelined },
  { ids: ["unary-1", "unary-1-minimal", "text", "jsonl", "node-jsonl-1"], run: unaryOneConnection },
  { ids: ["unary-16", "node-jsonl-16"], run: unarySixteenConnections },
  { ids: ["mux-64"], run: multiplexed },
  { ids: ["plugin-host-1", "plugin-host-16"], run: pluginHostCalls },
  { ids: ["host-start"], run: hostStart },
  {
    ids: [
      "host-rss",
      "host-pss",
      "examples-rss",
      "examples-rss-haproxy",
      "examples-rss-redis",
      "examples-pss",
    ],
    run: hostMemory,
  },
  { ids: ["stream"], run: streaming },
  { ids: [...CONNECTION_MEMORY_IDS], run: connectionMemory },
  { ids: [...COLD_IDS], run: coldCall },
  { ids: ["stream-lend"], run: streamingLent },
  { ids: ["cli-stream"], run: cliStreaming },
  { ids: [...FLEET_IDS], run: fleetFanOut },
  { ids: ["adopted-1", "adopted-16", "adopted-stream"], run: adoptedSocket },
  { ids: ["adopted-memory"], run: adoptedMemory },
];

/** Table order: issue 18's figures first (in its order), then the rest, then the node peer. */
const ORDER = [
  ...PEER_IDS,
  "mux-64",
  ...COLD_IDS,
  "examples-rss",
  "examples-rss-haproxy",
  "examples-rss-redis",
  ...CONNECTION_MEMORY_IDS,
  "stream",
  "stream-lend",
  "cli-stream",
  "unary-1",
  "unary-1-minimal",
  "unary-16",
  "text",
  "jsonl",
  "plugin-host-1",
  "plugin-host-16",
  "host-start",
  "host-rss",
  "host-pss",
  "examples-pss",
  ...FLEET_IDS,
  "adopted-1",
  "adopted-16",
  "adopted-stream",
  "adopted-memory",
  "node-jsonl-1",
  "node-jsonl-16",
];

const USAGE = `usage: deno task bench [--quick] [--pin[=CPU]] [--out PATH] [--only ID,...] [--profile DIR]

  --quick         a few minutes: fewer, shorter repetitions; streams 128 MiB instead of 1 GiB
  --pin[=CPU]     run everything (servers, peers, clients) on one CPU (default: the last), so a
                  figure is the CPU cost of a call; uses taskset (util-linux)
  --out PATH      where to write the JSON copy (default: bench-results.json in the cwd)
  --only IDS      measure only these rows (${ORDER.join(", ")})
  --profile DIR   write V8 CPU profiles of the sockd servers to DIR and summarize them
`;

interface Options {
  quick: boolean;
  /** The CPU to pin to (--pin). */
  pin?: number;
  out: string;
  only?: Set<string>;
  profileDir?: string;
}

function parseOptions(args: string[]): Options {
  const opts: Options = { quick: false, out: "bench-results.json" };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--quick") opts.quick = true;
    else if (a === "--out") opts.out = value();
    else if (a === "--only") opts.only = new Set(value().split(",").map((s) => s.trim()).filter(Boolean));
    else if (a === "--profile") opts.profileDir = value();
    else if (a === "--pin") opts.pin = navigator.hardwareConcurrency - 1;
    else if (a.startsWith("--pin=")) {
      opts.pin = Number(a.slice("--pin=".length));
      if (!/^\d+$/.test(a.slice("--pin=".length))) throw new Error(`${a}: the CPU is a number`);
    } else if (a === "-h" || a === "--help") {
      console.log(USAGE);
      Deno.exit(0);
    } else throw new Error(`Unknown argument ${a}`);
  }
  for (const id of opts.only ?? []) {
    if (!ORDER.includes(id)) throw new Error(`Unknown row id "${id}" (known: ${ORDER.join(", ")})`);
  }
  return opts;
}

async function machine() {
  let node = "not found";
  try {
    node = (await runOutput(NODE, ["--version"])).trim();
  } catch { /* no node */ }
  return {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    node,
    cpus: navigator.hardwareConcurrency,
    loadavg: Deno.loadavg(),
    os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
  };
}

function describeConfig(c: Config): string {
  const w = c.window;
  return [
    `${
      c.quick ? "quick" : "full"
    } run: medians of ${c.reps} repetitions per figure (${w.durationMs} ms each after ${w.warmupMs} ms warm-up),`,
    `sides interleaved in rotating order; stream ${c.streamBytes / 1024 / 1024} MiB;`,
    `memory ${c.memoryReps} repetition(s) of ${c.idleConnections} idle connections; cold CLI ${c.coldRuns} runs per side.`,
  ].join(" ");
}

/** Runs the suite; resolves to the exit code. */
async function main(args: string[]): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(args);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const config = opts.quick ? QUICK : FULL;
  const loadBefore = Deno.loadavg();
  let pinned = "not pinned (--pin runs everything on one CPU)";
  if (opts.pin !== undefined) {
    try {
      pinned = await pinSelf(opts.pin);
    } catch (err) {
      console.error((err as Error).message);
      return 1;
    }
    console.error(pinned);
  }
  // Before the watchdog starts: installing the peers may take a minute.
  const peers = await findPeers((line) => console.error(line));
  for (const [name, p] of Object.entries(peers)) {
    console.error(p.ok ? `${name} ${p.version}` : `${name}: n/a: ${p.why}`);
  }
  const scope = new Scope();
  let cleaned: Promise<void> | undefined;
  const cleanUp = () => cleaned ??= scope[Symbol.asyncDispose]();
  const onSignal = () => {
    console.error("\nInterrupted: stopping servers and removing temp dirs");
    cleanUp().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  // Every figure is bounded; this bounds the whole run too, should a server hang.
  const budgetMs = opts.quick ? 10 * 60_000 : 20 * 60_000;
  const watchdog = setTimeout(() => {
    console.error(`\nThe run exceeded ${budgetMs / 60_000} minutes: giving up`);
    cleanUp().finally(() => Deno.exit(1));
  }, budgetMs);

  const t0 = performance.now();
  const rows: Row[] = [];
  let failed = false;
  try {
    if (opts.profileDir) await Deno.mkdir(opts.profileDir, { recursive: true });
    console.error(describeConfig(config));
    const env = await setUp(scope, config, peers, opts.profileDir);
    for (const fig of FIGURES) {
      const wanted = opts.only ? fig.ids.filter((id) => opts.only!.has(id)) : fig.ids;
      if (wanted.length === 0) continue;
      const started = performance.now();
      console.error(`measuring ${fig.ids.join(", ")} ...`);
      try {
        rows.push(...(await fig.run(env)).filter((r) => wanted.includes(r.id)));
      } catch (err) {
        failed = true;
        console.error(`  failed: ${(err as Error).stack ?? err}`);
        for (const id of wanted) {
          rows.push(makeRow({
            id,
            figure: id,
            unit: "calls/s",
            baseline: "—",
            target: { kind: "none" },
            na: `failed: ${(err as Error).message}`,
          }));
        }
      }
      console.error(`  ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    if (opts.profileDir) {
      // Stopping with SIGTERM lets the servers exit normally and write their profiles.
      await Promise.all(env.servers.map((s) => s.stop(5000)));
    }
  } catch (err) {
    console.error(`The suite could not run: ${(err as Error).message}`);
    return 1;
  } finally {
    clearTimeout(watchdog);
    await cleanUp();
    Deno.removeSignalListener("SIGINT", onSignal);
  }

  rows.sort((a, b) => ORDER.indexOf(a.id) - ORDER.indexOf(b.id));
  const seconds = (performance.now() - t0) / 1000;
  const info = await machine();
  console.log(`\n## sockd benchmark (${opts.quick ? "--quick" : "full run"}, ${seconds.toFixed(0)} s)\n`);
  console.log(
    `Deno ${info.deno} (V8 ${info.v8}), node ${info.node}, ${info.cpus} CPUs, ${info.os}, load ${
      loadBefore.map((l) => l.toFixed(2)).join(" ")
    } before the run, ${info.loadavg.map((l) => l.toFixed(2)).join(" ")} after; ${pinned}`,
  );
  const versions = Object.entries(peers).map(([n, p]) => p.ok ? `${n} ${p.version}` : `${n} n/a`);
  console.log(`Peers: ${versions.join(", ")}; rows marked (C client) use tests/bench/c/callbench.c.`);
  console.log(`${describeConfig(config)}\n`);
  console.log(renderTable(rows));
  const notes = renderNotes(rows);
  if (notes) console.log(`\n${notes}`);
  if (opts.profileDir) console.log(`\n${await summarizeProfiles(opts.profileDir)}`);

  const report = {
    suite: "sockd bench",
    date: new Date().toISOString(),
    quick: config.quick,
    seconds,
    config,
    pinned,
    peers,
    loadBefore,
    machine: info,
    rows,
  };
  await Deno.writeTextFile(opts.out, JSON.stringify(report, null, 2) + "\n");
  console.log(`\nJSON copy: ${await Deno.realPath(opts.out)}`);
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
