/**
 * Hot reload, in process: real sockets, real workers, plugin files in temp
 * directories rewritten while clients call them.
 */
import { type Client, connect } from "../../lib/client.ts";
import { Status } from "../../lib/errors.ts";
import type { Chunk } from "../../lib/command.ts";
import { serve, type ServeOptions, type Server } from "../../lib/server.ts";
import { assert, assertEquals, assertIncludes, assertMatch, assertStatus, caught } from "../assert.ts";
import { tempDir, waitFor } from "../_helpers.ts";

async function pluginServer(
  dir: string,
  files: Record<string, string>,
  options: Partial<ServeOptions> = {},
): Promise<Server & AsyncDisposable & { plugins_dir: string }> {
  const plugins = `${dir}/cmds`;
  await Deno.mkdir(plugins, { recursive: true });
  for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(`${plugins}/${name}`, text);
  const server = await serve({ path: `${dir}/s.sock`, plugins: [plugins], watch: false, ...options });
  return Object.assign(server, {
    plugins_dir: plugins,
    [Symbol.asyncDispose]: () => server.close({ drainMs: 0 }),
  });
}

const version = (v: number | string) =>
  `export default [
    { name: "ver", summary: "Version", access: "read", run: () => ${JSON.stringify(v)} },
    { name: "slow", summary: "Version, after 1 s", access: "read",
      run: () => new Promise((r) => setTimeout(() => r(${JSON.stringify(v)}), 1000)) },
  ];`;

Deno.test("reload: 1,000 calls from 8 clients while the plugin directory is reloaded 20 times: none fails, none drops", async () => {
  await using tmp = await tempDir();
  await using server = await pluginServer(tmp.dir, {
    "ver.js": version(0),
    "zz_other.js": `export default { name: "other", summary: "x", run: () => "other" };`,
  });
  const clients: Client[] = await Promise.all(Array.from({ length: 8 }, () => connect(server.path)));
  // Hosts start on first use; a reload keeps a running host running. Started here, before the file changes:
  // a stopped version whose file has changed cannot start a host (see the host idle tests).
  assertEquals(await clients[0]!.call("ver").result, 0);
  assertEquals(await clients[0]!.call("other").result, "other");
  let reloads = 0;
  let failures = 0;
  let stale = 0;
  let calls = 0;
  const stop = { done: false };
  const reloader = (async () => {
    for (let i = 1; i <= 20; i++) {
      await Deno.writeTextFile(`${server.plugins_dir}/ver.js`, version(i));
      const report = await server.reload();
      assertEquals(report.failed, []);
      reloads = i;
      await new Promise((r) => setTimeout(r, 10));
    }
    stop.done = true;
  })();
  const callers = clients.map(async (client) => {
    // At least 125 calls each, and calls until the last reload is done, so they overlap every reload.
    for (let n = 0; n < 125 || !stop.done; n++) {
      calls++;
      const before = reloads;
      try {
        const v = await client.call(n % 10 === 9 ? "other" : "ver").result;
        if (typeof v === "number" && v < before) stale++;
      } catch {
        failures++;
      }
      if (n % 25 === 0) await new Promise((r) => setTimeout(r, 5));
    }
  });
  await Promise.all([...callers, reloader]);
  assert(calls >= 1000, `${calls} calls`);
  assertEquals(failures, 0);
  assertEquals(stale, 0, "a call that starts after a reload returns is answered by the new version");
  assertEquals(reloads, 20);
  for (const c of clients) assertEquals(await c.call("ver").result, 20, "every connection is still up");
  await waitFor(() => server.plugins().every((p) => p.retiring === 0), 5000, "old versions to retire");
  const ver = server.plugins().find((p) => p.file.endsWith("ver.js"))!;
  assertEquals([ver.state, ver.version], ["loaded", 21]);
  for (const c of clients) c.close();
});

Deno.test("reload: a syntax error keeps the old version answering, and the failure is visible", async () => {
  await using tmp = await tempDir();
  const logs: string[] = [];
  const logger = {
    debug() {},
    info() {},
    warn() {},
    error: (m: string, f?: Record<string, unknown>) => logs.push(`${m} ${JSON.stringify(f)}`),
  };
  await using server = await pluginServer(tmp.dir, { "ver.js": version(1) }, { logger });
  const client = await connect(server.path);
  try {
    // Its host runs (hosts start on first use); a failed reload keeps it running.
    assertEquals(await client.call("ver").result, 1);
    await Deno.writeTextFile(`${server.plugins_dir}/ver.js`, `export default { name: "ver", run( };`);
    const err = await caught(client.call("reload").result);
    assertStatus(err, Status.HANDLER_ERROR);
    assertIncludes(err.message, "ver.js: SyntaxError");
    assertEquals(await client.call("ver").result, 1, "the old version keeps serving");
    const [status] = await client.call("plugins", ["--json"]).result as Record<string, unknown>[];
    assertEquals([status!.state, status!.version], ["failed", 1]);
    assertIncludes(String(status!.error), "SyntaxError");
    assert(logs.some((l) => l.startsWith("Plugin failed to load") && l.includes("ver.js")), logs.join("\n"));

    await Deno.writeTextFile(`${server.plugins_dir}/ver.js`, version(2));
    assertIncludes(await client.call("reload").result as string, "reloaded 1 (ver.js)");
    assertEquals(await client.call("ver").result, 2);
    assertEquals(server.plugins()[0]!.state, "loaded");
  } finally {
    client.close();
  }
});

Deno.test("reload: a file fixed back to the exact content that serves clears its failure", async () => {
  await using tmp = await tempDir();
  await using server = await pluginServer(tmp.dir, { "ver.js": version(2) });
  const client = await connect(server.path);
  try {
    await Deno.writeTextFile(`${server.plugins_dir}/ver.js`, `export default { name: "ver", run( };`);
    assertStatus(await caught(client.call("reload").result), Status.HANDLER_ERROR);
    assertEquals(server.plugins()[0]!.state, "failed");
    await Deno.writeTextFile(`${server.plugins_dir}/ver.js`, version(2));
    assertIncludes(await client.call("reload").result as string, "unchanged 1");
    const [status] = await client.call("plugins", ["--json"]).result as Record<string, unknown>[];
    assertEquals([status!.state, status!.version, status!.error], ["loaded", 1, undefined]);
    assertEquals(await client.call("ver").result, 2);
    assertMatch(await client.call("plugins").result as string, /ver\.js +loaded v1 /);
  } finally {
    client.close();
  }
});

Deno.test("reload: calls in flight finish on the old version, which then retires", async () => {
  await using tmp = await tempDir();
  await using server = await pluginServer(tmp.dir, { "ver.js": version(1) });
  const client = await connect(server.path);
  try {
    // Version 1's host runs before the file changes (a host loads the file as it is on disk).
    assertEquals(await client.call("ver").result, 1);
    const inFlight = client.call("slow").result;
    // The call is running on version 1 (counted there) before the reload, however loaded the machine.
    await waitFor(() => server.plugins()[0]!.calls === 1, 5000, "the slow call to start");
    await Deno.writeTextFile(`${server.plugins_dir}/ver.js`, version(2));
    await server.reload();
    assertEquals(await client.call("ver").result, 2);
    assertEquals(server.plugins()[0]!.retiring, 1);
    assertEquals(await inFlight, 1);
    await waitFor(() => server.plugins()[0]!.retiring === 0, 3000, "the old version to retire");
  } finally {
    client.close();
  }
});

Deno.test("reload: a persistent stream carries on from the new version after a {$reloaded} marker", async () => {
  await using tmp = await tempDir();
  const ticker = (label: string) =>
    `export default { name: "tick", summary: "Ticks", persistent: true, async *run(ctx) {
      for (let i = 1; !ctx.signal.aborted; i++) { yield "${label} " + i; await new Promise((r) => setTimeout(r, 20)); } } };`;
  await using server = await pluginServer(tmp.dir, { "tick.js": ticker("old") });
  const client = await connect(server.path);
  try {
    const call = client.call("tick");
    const seen: Chunk[] = [];
    let reloaded = false;
    for await (const chunk of call) {
      seen.push(chunk);
      if (seen.length === 3 && !reloaded) {
        reloaded = true;
        await Deno.writeTextFile(`${server.plugins_dir}/tick.js`, ticker("new"));
        await server.reload();
      }
      if (
        typeof chunk === "string" && chunk.startsWith("new ") &&
        seen.filter((c) => String(c).startsWith("new ")).length === 3
      ) break;
    }
    call.cancel();
    const marker = seen.findIndex((c) => typeof c === "object" && c !== null && "$reloaded" in c);
    assert(marker > 0, `a marker in ${JSON.stringify(seen)}`);
    assertEquals(seen[marker], { $reloaded: "tick.js" });
    assert(seen.slice(0, marker).every((c) => String(c).startsWith("old ")), JSON.stringify(seen));
    assertEquals(seen.slice(marker + 1), ["new 1", "new 2", "new 3"]);
    assertStatus(await caught(call.result), Status.CANCELLED);
  } finally {
    client.close();
  }
});

Deno.test("reload: unchanged files keep their worker; a removed file loses its commands; state survives a reload", async () => {
  await using tmp = await tempDir();
  const counter = (step: number) =>
    `export default { name: "count", summary: "Counts", run(ctx) { const n = (ctx.state.get("n") ?? 0) + ${step}; ctx.state.set("n", n); return n; } };`;
  await using server = await pluginServer(tmp.dir, {
    "count.js": counter(1),
    "gone.js": `export default { name: "gone", summary: "x", run: () => 1 };`,
  });
  const client = await connect(server.path);
  try {
    assertEquals(await client.call("count").result, 1);
    let report = await server.reload();
    assertEquals(report.loaded, []);
    assertEquals(report.unchanged.length, 2);
    await Deno.writeTextFile(`${server.plugins_dir}/count.js`, counter(10));
    await Deno.remove(`${server.plugins_dir}/gone.js`);
    report = await server.reload();
    assertEquals(report.loaded, [`${server.plugins_dir}/count.js`]);
    assertEquals(report.removed, [`${server.plugins_dir}/gone.js`]);
    assertEquals(await client.call("count").result, 11, "the new version sees the old version's state");
    assertStatus(await caught(client.call("gone").result), Status.NOT_FOUND);
    report = await server.reload({ all: true });
    assertEquals(report.loaded, [`${server.plugins_dir}/count.js`]);
  } finally {
    client.close();
  }
});

Deno.test("reload: a change in a watched directory reloads it", async () => {
  await using tmp = await tempDir();
  await using server = await pluginServer(tmp.dir, { "ver.js": version(1) }, { watch: true });
  const client = await connect(server.path);
  try {
    await new Promise((r) => setTimeout(r, 100));
    await Deno.writeTextFile(`${server.plugins_dir}/ver.js`, version(2));
    // Until the watcher has reloaded it, version 1 (its host stopped: none was called) answers 105: its file
    // no longer holds its code.
    await waitFor(
      async () => await client.call("ver").result.catch(() => undefined) === 2,
      5000,
      "the watcher to reload ver.js",
    );
    await Deno.writeTextFile(
      `${server.plugins_dir}/new.js`,
      `export default { name: "new", summary: "x", run: () => "new" };`,
    );
    await waitFor(() => server.commands().some((c) => c.name === "new"), 5000, "new.js to load");
    assertEquals(await client.call("new").result, "new");
  } finally {
    client.close();
  }
});

Deno.test("reload: the reload and plugins commands need admin access", async () => {
  await using tmp = await tempDir();
  await using server = await pluginServer(tmp.dir, { "ver.js": version(1) }, { access: "operate" });
  const client = await connect(server.path);
  try {
    assertStatus(await caught(client.call("reload").result), Status.FORBIDDEN);
    // plugins shows paths and grants: admin only, as the docs say.
    assertStatus(await caught(client.call("plugins", ["--json"]).result), Status.FORBIDDEN);
  } finally {
    client.close();
  }
});
