/**
 * The cold one-shot call as a user runs it: `sockd call ping` of the
 * installed tool (`deno task install` with `DENO_INSTALL_ROOT` in the bench
 * cache, so whatever install.ts writes is what is timed), against `deno run`
 * of an empty script, and `redis-cli`/`socat` one-shots of the peers beside.
 *
 * The install is shared with the other CLI rows (tests/bench/_install.ts).
 *
 * @module
 */
import type { Env } from "./_env.ts";
import { interleave } from "./_figures.ts";
import { installedSockd } from "./_install.ts";
import { ROOT, runOutput, timeRun } from "./_processes.ts";
import { makeRow, type Row } from "./_row.ts";

/** Debian's path (installed with redis-server); named in the "bench" set. */
const REDIS_CLI = "/usr/bin/redis-cli";

/** Runs `cmd` with `input` on its stdin to completion; its wall time in ms (throws on a non-zero exit). */
async function timeWithInput(cmd: string, args: string[], input: string): Promise<number> {
  const t0 = performance.now();
  const child = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const out = await child.output();
  const ms = performance.now() - t0;
  if (!out.success) {
    throw new Error(`${cmd} exited with ${out.code}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return ms;
}

/** Row ids of this file, in table order. */
export const COLD_IDS: readonly string[] = ["cold-call", "cold-call-redis-cli", "cold-call-socat"];

/** Wall time of a cold `sockd call ping` process against `deno run` of an empty script. */
export async function coldCall(env: Env): Promise<Row[]> {
  const { coldRuns } = env.config;
  const installed = await installedSockd();
  const call = () => timeRun(installed, ["call", "--socket", env.sockd, "ping"], "/");
  const empty = () => timeRun("deno", ["run", "-q", `${ROOT}tests/bench/fixtures/empty.ts`]);
  const contenders = [{ name: "empty", sample: empty }, { name: "call", sample: call }];
  if (env.redis) {
    const redis = env.redis;
    contenders.push({ name: "redis-cli", sample: () => timeRun(REDIS_CLI, ["-s", redis, "PING"]) });
  }
  if (env.haproxy) {
    const haproxy = env.haproxy;
    contenders.push({
      name: "socat",
      sample: () => timeWithInput("socat", ["-", `UNIX-CONNECT:${haproxy}`], "show version\n"),
    });
  }
  // The installed tool must answer, and the first runs fill Deno's caches: not counted.
  const pong = (await runOutput(installed, ["call", "--socket", env.sockd, "ping"], "/")).trim();
  if (pong !== "pong") throw new Error(`the installed sockd answered ping with ${JSON.stringify(pong)}`);
  for (let i = 0; i < 2; i++) for (const c of contenders) await c.sample();
  const s = await interleave(coldRuns, contenders);
  const row = (id: string, name: string, baseline: string) =>
    makeRow({
      id,
      figure: "`sockd call ping`, installed (`deno task install`), cold process, wall time",
      unit: "ms",
      samples: s.get("call")!,
      baseline,
      baselineSamples: s.get(name) ?? [],
      target: id === "cold-call" ? { kind: "ratio-at-most", value: 1.3 } : { kind: "none" },
      note: id === "cold-call"
        ? `Median of ${coldRuns} runs each, after 2 uncounted runs that fill Deno's module caches.`
        : undefined,
    });
  return [
    row("cold-call", "empty", "`deno run` of an empty script"),
    row("cold-call-redis-cli", "redis-cli", env.redis ? "`redis-cli -s PATH PING`" : "redis-cli: n/a"),
    row(
      "cold-call-socat",
      "socat",
      env.haproxy ? "`socat - UNIX-CONNECT:…` with `show version` on stdin (HAProxy)" : "socat: n/a",
    ),
  ];
}
