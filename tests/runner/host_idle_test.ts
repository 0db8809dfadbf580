/**
 * Plugin hosts start on first use and stop when idle: real servers in the
 * test process, real host processes, short idle timeouts.
 */
import { connect } from "../../lib/client.ts";
import { Status } from "../../lib/errors.ts";
import { complete, ServerCatalog } from "../../lib/cli/_completion.ts";
import type { Server } from "../../lib/server.ts";
import type { PluginStatus } from "../../lib/command.ts";
import { assert, assertEquals, assertIncludes, assertMatch, assertStatus, caught } from "../assert.ts";
import { tempDir, waitFor } from "../_helpers.ts";
import { pluginServer } from "./_plugin_server.ts";

function status(server: Server, name: string): PluginStatus {
  const p = server.plugins().find((p) => p.file.endsWith(`/${name}`));
  assert(p, `no plugin ${name}`);
  return p;
}

/** Whether a process with this pid exists (signal 0 needs no permission beyond run... so ask ps). */
async function alive(pid: number): Promise<boolean> {
  const ps = await new Deno.Command("ps", { args: ["-o", "pid=", "-p", String(pid)], stdout: "piped" })
    .output();
  return new TextDecoder().decode(ps.stdout).trim() === String(pid);
}

const GREET = `export default {
  name: "greet", summary: "Says hello", access: "operate",
  args: [{ name: "who", description: "Whom" }],
  flags: { shout: { type: "boolean", description: "Loudly" } },
  run: (ctx) => ctx.flags.shout ? "HELLO " + ctx.args[0] : "hello " + ctx.args[0],
};`;

Deno.test("host idle: no host runs after load; help, completion and argument and access checks need none", async () => {
  await using tmp = await tempDir();
  await using server = await pluginServer(tmp.dir, { "greet.js": GREET }, {
    listeners: [{ path: `${tmp.dir}/ro.sock`, access: "read" }],
  });
  const p = status(server, "greet.js");
  assertEquals(p.state, "loaded");
  assertEquals(p.host, "stopped", "the host that loaded it reported its commands and stopped");
  assertEquals(p.pid, undefined);
  assertEquals(p.commands, ["greet"]);
  const client = await connect(server.path);
  const ro = await connect(`${tmp.dir}/ro.sock`);
  try {
    assertMatch(
      await client.call("help", ["greet"]).result as string,
      /^usage: greet \[--shout\] WHO\n\nSays hello\n/,
    );
    const catalog = new ServerCatalog(() => client);
    assertEquals((await complete("gre", 3, catalog)).candidates, ["greet"]);
    assertEquals((await complete("greet --sh", 10, catalog)).candidates, ["--shout"]);
    assertStatus(await caught(client.call("greet", ["--loud", "x"]).result), Status.BAD_ARGS);
    assertStatus(await caught(ro.call("greet", ["x"]).result), Status.FORBIDDEN);
    assertEquals(status(server, "greet.js").host, "stopped", "none of that started a host");
    const text = await client.call("plugins").result as string;
    assertMatch(text, /greet\.js +loaded v1 +process +greet +no grants +stopped +- +-$/m);
    const st = await client.call("status").result as { plugins: { hosts: number } };
    assertEquals(st.plugins.hosts, 0, "status counts no running host");
  } finally {
    client.close();
    ro.close();
  }
});

Deno.test("host idle: the first call starts the host; it stops after the idle timeout and starts again", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(`${tmp.dir}/cmds`);
  // The idle timeout from sockd.json, in seconds.
  await Deno.writeTextFile(
    `${tmp.dir}/cmds/sockd.json`,
    JSON.stringify({ plugins: { "greet.js": { idle: 0.4 } } }),
  );
  await using server = await pluginServer(tmp.dir, { "greet.js": GREET });
  const client = await connect(server.path);
  try {
    assertEquals(status(server, "greet.js").host, "stopped");
    assertEquals(await client.call("greet", ["ann"]).result, "hello ann");
    const first = status(server, "greet.js");
    assertEquals(first.host, "running");
    assert(first.pid !== undefined && await alive(first.pid), "a live host process");
    assertEquals((await client.call("status").result as { plugins: { hosts: number } }).plugins.hosts, 1);
    // Calls within the timeout keep the same host.
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 150));
      assertEquals(await client.call("greet", ["--shout", "bo"]).result, "HELLO bo");
    }
    assertEquals(status(server, "greet.js").pid, first.pid, "calls 150 ms apart keep the host");
    await waitFor(() => status(server, "greet.js").host === "stopped", 3000, "the idle host to stop");
    await waitFor(async () => !await alive(first.pid!), 2000, "the idle host's process to exit");
    const stopped = status(server, "greet.js");
    assertEquals(stopped.state, "loaded");
    assertEquals(stopped.restarts, 0, "an idle stop is not a failure");
    assertEquals(stopped.memoryBytes, undefined);
    assertEquals(await client.call("greet", ["cy"]).result, "hello cy");
    const again = status(server, "greet.js");
    assert(again.pid !== undefined && again.pid !== first.pid, "a new host");
  } finally {
    client.close();
  }
});

Deno.test("host idle: calls arriving while the host starts wait for it; one whose deadline passes first answers 104", async () => {
  await using tmp = await tempDir();
  // Loading takes 600 ms: long enough for calls to arrive during a start.
  const slow = `await new Promise((r) => setTimeout(r, 600));
    export default { name: "slow", summary: "Slow to load", run: () => Deno.pid };`;
  await using server = await pluginServer(tmp.dir, { "slow.js": slow }, { sandbox: { idleMs: 60_000 } });
  const client = await connect(server.path);
  try {
    assertEquals(status(server, "slow.js").host, "stopped");
    const early = client.call("slow", [], { timeoutMs: 150 }).result;
    const calls = [client.call("slow").result];
    await waitFor(() => status(server, "slow.js").host === "starting", 2000, "the host starting");
    calls.push(client.call("slow").result, client.call("slow").result);
    assertStatus(await caught(early), Status.TIMEOUT);
    const pids = await Promise.all(calls);
    assertEquals(new Set(pids).size, 1, "one host started for every waiting call");
    assertEquals(status(server, "slow.js").pid, pids[0]);
    assertEquals(status(server, "slow.js").restarts, 0);
  } finally {
    client.close();
  }
});

Deno.test("host idle: a persistent call keeps its host; once it ends the host idles out", async () => {
  await using tmp = await tempDir();
  const feed = `export default {
    name: "feed", summary: "Ticks until cancelled", persistent: true,
    async *run(ctx) {
      while (!ctx.signal.aborted) { yield "tick\\n"; await new Promise((r) => setTimeout(r, 50)); }
    },
  };`;
  await using server = await pluginServer(tmp.dir, { "feed.js": feed }, { sandbox: { idleMs: 200 } });
  const client = await connect(server.path);
  try {
    const call = client.call("feed");
    call.result.catch(() => {});
    let ticks = 0;
    const reading = (async () => {
      for await (const _ of call) ticks++;
    })().catch(() => {});
    await waitFor(() => ticks > 0, 5000, "the first tick");
    const pid = status(server, "feed.js").pid;
    // Five idle timeouts go by while the stream runs.
    await new Promise((r) => setTimeout(r, 1000));
    assertEquals(status(server, "feed.js").pid, pid, "the same host runs the stream");
    const before = ticks;
    await waitFor(() => ticks > before, 2000, "more ticks");
    call.cancel();
    await reading;
    await waitFor(() => status(server, "feed.js").host === "stopped", 3000, "the host to idle out");
    assertEquals(status(server, "feed.js").restarts, 0);
  } finally {
    client.close();
  }
});

Deno.test("host idle: a host killed while idle is a failure; it restarts, stops again when idle, and serves", async () => {
  await using tmp = await tempDir();
  await using server = await pluginServer(tmp.dir, { "greet.js": GREET }, {
    sandbox: { idleMs: 500, restartBackoffMs: 10 },
  });
  const client = await connect(server.path);
  try {
    assertEquals(await client.call("greet", ["a"]).result, "hello a");
    const pid = status(server, "greet.js").pid!;
    await new Deno.Command("kill", { args: ["-KILL", String(pid)] }).output();
    await waitFor(() => status(server, "greet.js").restarts === 1, 3000, "the crash noticed");
    const p = status(server, "greet.js");
    assertEquals(p.state, "loaded");
    await waitFor(
      () => status(server, "greet.js").host === "stopped",
      3000,
      "the restarted host to idle out",
    );
    assertEquals(await client.call("greet", ["b"]).result, "hello b");
    assertEquals(status(server, "greet.js").restarts, 1, "only the kill counted");
  } finally {
    client.close();
  }
});

Deno.test("host idle: a host that dies while starting for a call fails the waiting call, counts, and the next call starts again", async () => {
  await using tmp = await tempDir();
  const flag = `${tmp.dir}/die`;
  // Loads fine the first time (the load that reports its commands), dies at load while the flag exists.
  const fragile = `if ((() => { try { Deno.statSync(${
    JSON.stringify(flag)
  }); return true; } catch { return false; } })()) {
      Deno.exit(9);
    }
    export default { name: "fragile", summary: "x", run: () => "fine" };`;
  await Deno.mkdir(`${tmp.dir}/cmds`);
  await Deno.writeTextFile(
    `${tmp.dir}/cmds/sockd.json`,
    JSON.stringify({ plugins: { "fragile.js": { read: [flag] } } }),
  );
  await using server = await pluginServer(tmp.dir, { "fragile.js": fragile }, {
    sandbox: { idleMs: 60_000, restartBackoffMs: 10 },
  });
  const client = await connect(server.path);
  try {
    assertEquals(status(server, "fragile.js").host, "stopped");
    await Deno.writeTextFile(flag, "");
    const err = await caught(client.call("fragile").result);
    assertStatus(err, Status.HANDLER_ERROR);
    assertIncludes(err.message, "fragile.js could not start its host");
    const p = status(server, "fragile.js");
    assertEquals(p.state, "loaded", "one failure does not disable it");
    assertEquals(p.host, "stopped");
    await Deno.remove(flag);
    assertEquals(await client.call("fragile").result, "fine");
    assertEquals(status(server, "fragile.js").host, "running");
  } finally {
    client.close();
  }
});

Deno.test("host idle: with idleMs 0 every host runs from load on, as before", async () => {
  await using tmp = await tempDir();
  await using server = await pluginServer(tmp.dir, { "greet.js": GREET }, { sandbox: { idleMs: 0 } });
  const p = status(server, "greet.js");
  assertEquals(p.host, "running");
  assert(p.pid !== undefined && await alive(p.pid));
});

Deno.test("host idle: a host started after its file changed on disk refuses the new content, and a reload follows at once", async () => {
  await using tmp = await tempDir();
  const ver = (v: number) => `export default { name: "ver", summary: "Version", run: () => ${v} };`;
  await using server = await pluginServer(tmp.dir, { "ver.js": ver(1) });
  const client = await connect(server.path);
  try {
    assertEquals(status(server, "ver.js").host, "stopped");
    await Deno.writeTextFile(`${tmp.dir}/cmds/ver.js`, ver(2));
    const err = await caught(client.call("ver").result);
    assertStatus(err, Status.HANDLER_ERROR);
    assertIncludes(err.message, "ver.js changed on disk since this version loaded: reload to serve");
    // No watcher here: the failed start itself asked for the reload.
    await waitFor(() => status(server, "ver.js").version === 2, 5000, "version 2 to load");
    assertEquals(await client.call("ver").result, 2);
    const p = status(server, "ver.js");
    assertEquals(
      [p.state, p.restarts, p.error],
      ["loaded", 0, undefined],
      "not counted as the plugin's failure",
    );
  } finally {
    client.close();
  }
});

Deno.test("host idle: a reload keeps a plugin's host running if it ran, and stopped if it was stopped", async () => {
  await using tmp = await tempDir();
  const ver = (name: string, v: number) =>
    `export default { name: "${name}", summary: "x", run: () => ${v} };`;
  await using server = await pluginServer(tmp.dir, { "hot.js": ver("hot", 1), "cold.js": ver("cold", 1) });
  const client = await connect(server.path);
  try {
    assertEquals(await client.call("hot").result, 1);
    await Deno.writeTextFile(`${tmp.dir}/cmds/hot.js`, ver("hot", 2));
    await Deno.writeTextFile(`${tmp.dir}/cmds/cold.js`, ver("cold", 2));
    const report = await server.reload();
    assertEquals(report.loaded.length, 2);
    const hot = status(server, "hot.js");
    assertEquals([hot.version, hot.host], [2, "running"], "the new version's host kept running");
    assertEquals(status(server, "cold.js").host, "stopped");
    assertEquals(await client.call("hot").result, 2);
    assertEquals(status(server, "hot.js").pid, hot.pid, "served by the host that loaded it");
  } finally {
    client.close();
  }
});
