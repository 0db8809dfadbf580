/**
 * The cold one-shot call as a user runs it: `sockd call ping` of the
 * installed tool (`deno task install` with `DENO_INSTALL_ROOT` in the bench
 * cache, so whatever install.ts writes is what is timed), against `deno run`
 * of an empty script, and `redis-cli`/`socat` one-shots of the peers beside.
 *
 * The install root is a fixed path in the checkout (`.bench-cache/install`,
 * gitignored), reinstalled every run, because deno.json's "bench" set must
 * name the program it runs.
 *
 * @module
 */
import { CACHE } from "./_c_client.ts";
import type { Env } from "./_env.ts";
import { interleave } from "./_figures.ts";
import { ROOT, runOutput, timeRun } from "./_processes.ts";
import { makeRow, type Row } from "./_row.ts";

/** Where the bench installs sockd; the "bench" set allows running `${INSTALL_ROOT}/bin/sockd`. */
export const INSTALL_ROOT = `${CACHE}/install`;
const INSTALLED = `${INSTALL_ROOT}/bin/sockd`;

/** Runs `deno task install` into {@linkcode INSTALL_ROOT}; throws with its output when it fails. */
async function installSockd(): Promise<void> {
  const out = await new Deno.Command("deno", {
    args: ["task", "-q", "install"],
    cwd: ROOT,
    env: { DENO_INSTALL_ROOT: INSTALL_ROOT },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(180_000),
  }).output();
  if (!out.success) {
    const dec = new TextDecoder();
    throw new Error(`deno task install failed: ${dec.decode(out.stdout)}${dec.decode(out.stderr)}`);
  }
}

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
  await installSockd();
  const call = () => timeRun(INSTALLED, ["call", "--socket", env.sockd, "ping"], "/");
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
  const pong = (await runOutput(INSTALLED, ["call", "--socket", env.sockd, "ping"], "/")).trim();
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
