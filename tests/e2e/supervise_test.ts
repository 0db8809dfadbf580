/**
 * `sockd serve --supervise FILE` as a real subprocess, with the permission
 * set the README documents: a flooding child, SIGHUP reload, and the error
 * an operator sees without the `run` permission.
 */
import { connect } from "../../lib/client.ts";
import type { ProcessEvent, ProcessInfo } from "../../lib/supervise/types.ts";
import { assert, assertEquals, assertIncludes } from "../assert.ts";
import { ROOT, SOCKD_ARGS, startServer, tempDir, waitFor } from "../_helpers.ts";

const RUN = "--allow-run=/proc/self/exe,kill,ps,sh";

async function rssKiB(pid: number): Promise<number> {
  const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] }).output();
  return Number(new TextDecoder().decode(out.stdout).trim());
}

Deno.test("supervise e2e: a child writing 100 MB to stdout leaves sockd's memory bounded and ping fast", async () => {
  await using tmp = await tempDir();
  const config = `${tmp.dir}/sockd.json`;
  const flood = {
    command: "sh",
    args: ["-c", "head -c 100000000 /dev/zero; echo; echo done"],
    restart: "never",
    minUptimeMs: 0,
    autostart: false,
  };
  await Deno.writeTextFile(config, JSON.stringify({ processes: { flood } }));
  const path = `${tmp.dir}/s.sock`;
  await using server = await startServer(path, ["--supervise", config], {}, [RUN]);
  const client = await connect(path);
  try {
    for (let i = 0; i < 20; i++) await client.call("ping").result; // warm
    const before = await rssKiB(server.process.pid);
    const events = client.call("events", ["flood", "--json"]);
    let exited = false;
    const watched = (async () => {
      for await (const e of events) {
        if ((e as unknown as ProcessEvent).state === "exited") {
          exited = true;
          return;
        }
      }
    })();
    let peak = before;
    const sampled = (async () => {
      while (!exited) {
        peak = Math.max(peak, await rssKiB(server.process.pid));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const t0 = performance.now();
    await client.call("start", ["flood"]).result;
    const pings: number[] = [];
    const deadline = Date.now() + 15_000;
    while (!exited && Date.now() < deadline) {
      const t = performance.now();
      await client.call("ping").result;
      pings.push(performance.now() - t);
    }
    const ms = performance.now() - t0;
    events.cancel();
    await watched.catch(() => {});
    await sampled;
    assert(exited, "the flood did not finish within 15 s");
    const info = await client.call("ps", ["flood", "--json"]).result as unknown as ProcessInfo;
    assertEquals([info.state, info.exitCode], ["exited", 0]);
    let last = "";
    for await (const c of client.call("logs", ["flood", "-n", "1"])) last += c as string;
    assertEquals(last, "done\n");

    pings.sort((a, b) => a - b);
    const p99 = pings[Math.floor(pings.length * 0.99)]!;
    const max = pings.at(-1)!;
    const grew = (peak - before) / 1024;
    console.log(
      `100 MB in ${ms.toFixed(0)} ms; ${pings.length} pings: p50 ${
        pings[pings.length >> 1]!.toFixed(2)
      } ms, ` +
        `p99 ${p99.toFixed(2)} ms, max ${max.toFixed(2)} ms; RSS ${before >> 10} MiB, peak +${
          grew.toFixed(1)
        } MiB`,
    );
    assert(pings.length >= 10, `only ${pings.length} pings during the flood`);
    // Under 50 ms as the issue asks; the max is allowed the scheduler's latency on a loaded 2-core machine.
    assert(p99 < 50, `p99 ping ${p99} ms during the flood`);
    assert(max < 250, `slowest ping ${max} ms during the flood`);
    // Two 1 MiB rings and one 64 KiB read buffer; an unbounded buffer would add ~100 MiB.
    assert(grew < 40, `sockd's RSS grew by ${grew} MiB during a 100 MB flood`);
  } finally {
    client.close();
  }
});

Deno.test("supervise e2e: SIGHUP re-reads the config: adds, removes, keeps the same pid; SIGTERM stops the children", async () => {
  await using tmp = await tempDir();
  const config = `${tmp.dir}/sockd.json`;
  const sleeper = { command: "sh", args: ["-c", "exec sleep 300"], minUptimeMs: 0 };
  await Deno.writeTextFile(config, JSON.stringify({ processes: { keep: sleeper, drop: sleeper } }));
  const path = `${tmp.dir}/s.sock`;
  const server = await startServer(path, ["--supervise", config], {}, [RUN]);
  await using _ = server;
  const client = await connect(path);
  const list = async () => await client.call("ps", ["--json"]).result as unknown as ProcessInfo[];
  try {
    const [keep, drop] = await list();
    await Deno.writeTextFile(config, JSON.stringify({ processes: { keep: sleeper, add: sleeper } }));
    server.process.kill("SIGHUP");
    await waitFor(async () => (await list()).map((p) => p.name).join() === "keep,add", 5000, "the reload");
    const after = await list();
    assertEquals(after[0]!.pid, keep!.pid);
    await waitFor(async () => !(await alive(drop!.pid!)), 5000, "the removed process to be gone");
    client.close();
    assertEquals(await server.stop("SIGTERM"), 0);
    for (const p of after) assert(!(await alive(p.pid!)), `${p.name} (pid ${p.pid}) outlived sockd`);
    assertIncludes(server.stderr(), "SIGHUP: reloading plugins and processes");
  } finally {
    client.close();
  }
});

async function alive(pid: number): Promise<boolean> {
  const out = await new Deno.Command("ps", { args: ["-o", "stat=", "-p", String(pid)] }).output();
  const stat = new TextDecoder().decode(out.stdout).trim();
  return stat !== "" && !stat.startsWith("Z");
}

Deno.test("supervise e2e: without the run permission, serve refuses to start and names the flag to add", async () => {
  await using tmp = await tempDir();
  const config = `${tmp.dir}/sockd.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({ processes: { web: { command: "sh", args: ["-c", "true"] } } }),
  );
  const out = await new Deno.Command("deno", {
    args: [...SOCKD_ARGS, "serve", "--socket", `${tmp.dir}/s.sock`, "--supervise", config],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 1, stderr);
  assertIncludes(
    stderr,
    `sockd: this sockd may not run "kill", "ps", "sh": start it with --allow-run=/proc/self/exe,kill,ps,sh`,
  );
  // Nothing was left behind: the socket it bound is gone again.
  assertEquals(await Deno.stat(`${tmp.dir}/s.sock`).then(() => true, () => false), false);
});

Deno.test("supervise e2e: on takeover the old server stops its children and the new one runs its own", async () => {
  await using tmp = await tempDir();
  const config = `${tmp.dir}/sockd.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      processes: { idle: { command: "sh", args: ["-c", "exec sleep 300"], minUptimeMs: 0 } },
    }),
  );
  const path = `${tmp.dir}/s.sock`;
  await using old = await startServer(path, ["--supervise", config], {}, [RUN]);
  const first = await connect(path);
  const before = (await first.call("ps", ["idle", "--json"]).result as unknown as ProcessInfo).pid!;
  first.close();
  await using successor = await startServer(path, ["--supervise", config, "--takeover"], {}, [RUN]);
  await waitFor(
    () => successor.stderr().includes("Took over: the old server is draining"),
    10_000,
    "the takeover",
  );
  // The old server exits by itself once it has drained and stopped its child.
  let code: number | undefined;
  old.process.status.then((s) => code = s.code);
  await waitFor(() => code !== undefined, 10_000, "the old server to exit");
  assertEquals(code, 0);
  assert(!(await alive(before)), `the old server's child ${before} outlived it`);
  const client = await connect(path);
  try {
    const now = await client.call("ps", ["idle", "--json"]).result as unknown as ProcessInfo;
    assert(now.state === "running" && now.pid !== before && await alive(now.pid!), JSON.stringify(now));
  } finally {
    client.close();
  }
});
