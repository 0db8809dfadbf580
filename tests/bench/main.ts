/**
 * `deno task bench`: holds sockd against the raw socket on the same machine,
 * in the same process tree, and prints each figure beside its baseline with
 * the ratio and the target. A JSON copy goes to `bench-results.json` (or
 * `--out PATH`).
 *
 *     deno task bench                 # full run, a few minutes on 2 cores
 *     deno task bench --quick         # about 30 s; streams 128 MiB instead of 1 GiB
 *     deno task bench --only unary-1,stream --out /tmp/b.json
 *     deno task bench --profile /tmp/prof   # V8 CPU profiles of the sockd servers
 *
 * Servers under test run as separate processes (`sockd serve` through
 * main.ts with the `sockd` permission set, the raw echo server, the node
 * peer); clients run here. Benchmarks, not tests: nothing fails on speed.
 *
 * @module
 */
import { type Config, type Env, FULL, QUICK, setUp } from "./_env.ts";
import {
  coldCall,
  idleMemory,
  multiplexed,
  streaming,
  unaryOneConnection,
  unarySixteenConnections,
} from "./_figures.ts";
import { summarizeProfiles } from "./_cpuprofile.ts";
import { hostMemory, hostStart, pluginHostCalls } from "./_plugin_host.ts";
import { FLEET_IDS, fleetFanOut } from "./_fleet.ts";
import { adoptedSocket } from "./_adopted.ts";
import { streamingLent } from "./_stream_lend.ts";
import { NODE, runOutput, Scope } from "./_processes.ts";
import { makeRow, type Row } from "./_row.ts";
import { renderNotes, renderTable } from "./_table.ts";

/** A group of rows measured together, in table order. */
interface Figure {
  ids: string[];
  run: (env: Env) => Promise<Row[]>;
}

const FIGURES: readonly Figure[] = [
  { ids: ["unary-1", "unary-1-minimal", "text", "jsonl", "node-jsonl-1"], run: unaryOneConnection },
  { ids: ["unary-16", "node-jsonl-16"], run: unarySixteenConnections },
  { ids: ["mux-64"], run: multiplexed },
  { ids: ["plugin-host-1", "plugin-host-16"], run: pluginHostCalls },
  { ids: ["host-start"], run: hostStart },
  { ids: ["host-rss", "host-pss", "examples-rss", "examples-pss"], run: hostMemory },
  { ids: ["stream"], run: streaming },
  { ids: ["stream-lend"], run: streamingLent },
  { ids: ["idle-memory"], run: idleMemory },
  { ids: ["cold-call"], run: coldCall },
  { ids: [...FLEET_IDS], run: fleetFanOut },
  { ids: ["adopted-1", "adopted-16", "adopted-stream"], run: adoptedSocket },
];

/** Table order: the figures first, then the node peer. */
const ORDER = [
  "unary-1",
  "unary-1-minimal",
  "unary-16",
  "mux-64",
  "text",
  "jsonl",
  "plugin-host-1",
  "plugin-host-16",
  "host-start",
  "host-rss",
  "host-pss",
  "examples-rss",
  "examples-pss",
  "stream",
  "stream-lend",
  "idle-memory",
  "cold-call",
  ...FLEET_IDS,
  "adopted-1",
  "adopted-16",
  "adopted-stream",
  "node-jsonl-1",
  "node-jsonl-16",
];

const USAGE = `usage: deno task bench [--quick] [--out PATH] [--only ID,...] [--profile DIR]

  --quick         about 30 s: fewer, shorter repetitions; streams 128 MiB instead of 1 GiB
  --out PATH      where to write the JSON copy (default: bench-results.json in the cwd)
  --only IDS      measure only these rows (${ORDER.join(", ")})
  --profile DIR   write V8 CPU profiles of the sockd servers to DIR and summarize them
`;

interface Options {
  quick: boolean;
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
    else if (a === "-h" || a === "--help") {
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
  const scope = new Scope();
  let cleaned: Promise<void> | undefined;
  const cleanUp = () => cleaned ??= scope[Symbol.asyncDispose]();
  const onSignal = () => {
    console.error("\nInterrupted: stopping servers and removing temp dirs");
    cleanUp().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  // Every figure is bounded; this bounds the whole run too, should a server hang.
  const budgetMs = opts.quick ? 3 * 60_000 : 12 * 60_000;
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
    const env = await setUp(scope, config, opts.profileDir);
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
      info.loadavg.map((l) => l.toFixed(2)).join(" ")
    }`,
  );
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
    machine: info,
    rows,
  };
  await Deno.writeTextFile(opts.out, JSON.stringify(report, null, 2) + "\n");
  console.log(`\nJSON copy: ${await Deno.realPath(opts.out)}`);
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
