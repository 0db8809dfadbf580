/**
 * Plugins against a real `sockd serve` subprocess, run as `deno task sockd`
 * runs it (same entry point, same permission set): a busy loop, SIGHUP,
 * the `reload` command, a persistent stream across a reload, the network
 * permission, and `sockd init`.
 */
import { connect } from "../../lib/client.ts";
import type { Chunk } from "../../lib/command.ts";
import { Status } from "../../lib/errors.ts";
import { assert, assertEquals, assertIncludes, assertMatch, assertStatus, caught } from "../assert.ts";
import { DENO, ROOT, runSockd, startServer, tempDir, waitFor } from "../_helpers.ts";

async function pluginDir(dir: string, files: Record<string, string>): Promise<string> {
  const plugins = `${dir}/cmds`;
  await Deno.mkdir(plugins, { recursive: true });
  for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(`${plugins}/${name}`, text);
  return plugins;
}

const SPIN = `export default [
  { name: "spin", summary: "Loops forever", timeout: 500, run() { while (true) { /* busy */ } } },
  { name: "quick", summary: "Answers", run: () => "quick" },
];`;

Deno.test("e2e: a busy-loop plugin answers 104 at its deadline, and its host is killed by deadline plus grace", async () => {
  await using tmp = await tempDir();
  const plugins = await pluginDir(tmp.dir, { "spin.js": SPIN });
  await using server = await startServer(`${tmp.dir}/s.sock`, ["--plugins", plugins]);
  const a = await connect(server.path);
  const b = await connect(server.path);
  type Status = { restarts: number; pid?: number; state: string };
  const status = async () => (await b.call("plugins", ["--json"]).result as Status[])[0]!;
  try {
    // Hosts start on first use: start it before the 500 ms deadline counts.
    assertEquals(await b.call("quick").result, "quick");
    const first = await status();
    const spin = caught(a.call("spin").result);
    let pings = 0;
    let spinning = true;
    spin.then(() => spinning = false);
    while (spinning) {
      assertEquals(await b.call("ping").result, "pong");
      pings++;
    }
    const err = await spin;
    assertStatus(err, Status.TIMEOUT);
    assertIncludes(err.message, "500 ms");
    assert(pings > 5, `ping answered while the plugin spun (${pings} times)`);
    // Deadline 500 ms + grace 2000 ms (the default): then SIGKILL and a new host.
    await waitFor(async () => (await status()).restarts === 1, 5000, "the host to be killed and replaced");
    assertEquals(await processAlive(first.pid!), false, "the spinning host is gone");
    assertEquals(await b.call("quick").result, "quick", "a new host serves the plugin");
    const second = await status();
    assert(second.pid !== first.pid && await processAlive(second.pid!), "a new host process");
    assertIncludes(server.stderr(), "did not stop within 2000 ms after its deadline passed");

    // A new version (the file fixed) serves again.
    await Deno.writeTextFile(
      `${plugins}/spin.js`,
      SPIN.replace("while (true) { /* busy */ }", 'return "fixed";'),
    );
    await waitFor(
      async () => await b.call("spin").result.catch(() => "") === "fixed",
      5000,
      "the fixed version",
    );
  } finally {
    a.close();
    b.close();
  }
});

/** Whether a process exists (and is not a zombie), as `ps` sees it. */
async function processAlive(pid: number): Promise<boolean> {
  const out = await new Deno.Command("ps", { args: ["-o", "stat=", "-p", String(pid)] }).output();
  const stat = new TextDecoder().decode(out.stdout).trim();
  return stat !== "" && !stat.startsWith("Z");
}

const ver = (v: number) => `export default { name: "ver", summary: "Version", run: () => ${v} };`;

Deno.test("e2e: SIGHUP and the reload command reload the plugin directory; a failed load exits 1 naming the file", async () => {
  await using tmp = await tempDir();
  const plugins = await pluginDir(tmp.dir, { "ver.js": ver(1) });
  await using server = await startServer(`${tmp.dir}/s.sock`, ["--plugins", plugins]);
  const client = await connect(server.path);
  try {
    assertEquals(await client.call("ver").result, 1);
    await Deno.writeTextFile(`${plugins}/ver.js`, ver(2));
    server.process.kill("SIGHUP");
    await waitFor(async () => await client.call("ver").result === 2, 5000, "SIGHUP to reload");
    // The watcher would reload too, but only after its 200 ms debounce: SIGHUP's reload is first.
    const afterHup = () =>
      server.stderr().split("SIGHUP: reloading plugins")[1]?.match(/Plugins reloaded .*/)?.[0];
    await waitFor(() => afterHup() !== undefined, 5000, "SIGHUP's reload in the log");
    assertIncludes(afterHup()!, "loaded=1 ");

    await Deno.writeTextFile(`${plugins}/ver.js`, ver(3));
    const ok = await runSockd(["call", "--socket", server.path, "reload"]);
    assertEquals(ok.code, 0, ok.stderr);
    assert(/reloaded 1 \(ver\.js\)|unchanged 1/.test(ok.stdout), ok.stdout);
    assertEquals(await client.call("ver").result, 3);

    await Deno.writeTextFile(`${plugins}/ver.js`, "export default { name: ;");
    const bad = await runSockd(["call", "--socket", server.path, "reload", "--all"]);
    assertEquals(bad.code, 1);
    assertIncludes(bad.stderr, "ver.js: SyntaxError");
    assertEquals(await client.call("ver").result, 3, "the old version keeps serving");
    const list = await runSockd(["call", "--socket", server.path, "plugins"]);
    assertMatch(list.stdout, /ver\.js +failed, v\d+ serves /);
    assertIncludes(list.stdout, "ver.js: its newest content did not load: SyntaxError");
    assertIncludes(server.stderr(), "Plugin failed to load");
  } finally {
    client.close();
  }
});

Deno.test("e2e: a persistent stream from sockd call survives a reload, with one marker", async () => {
  await using tmp = await tempDir();
  const tick = (label: string) =>
    `export default { name: "tick", summary: "Ticks", persistent: true, async *run(ctx) {
      for (let i = 1; !ctx.signal.aborted; i++) { yield { label: "${label}", i }; await new Promise((r) => setTimeout(r, 50)); } } };`;
  const plugins = await pluginDir(tmp.dir, { "tick.js": tick("old") });
  await using server = await startServer(`${tmp.dir}/s.sock`, ["--plugins", plugins]);
  const client = await connect(server.path);
  try {
    const call = client.call("tick");
    const seen: Chunk[] = [];
    for await (const chunk of call) {
      seen.push(chunk);
      if (seen.length === 2) {
        await Deno.writeTextFile(`${plugins}/tick.js`, tick("new"));
        server.process.kill("SIGHUP");
      }
      if ((chunk as { label?: string }).label === "new" && (chunk as { i: number }).i === 2) break;
    }
    call.cancel();
    const markers = seen.filter((c) => (c as Record<string, unknown>).$reloaded !== undefined);
    assertEquals(markers, [{ $reloaded: "tick.js" }]);
    const at = seen.indexOf(markers[0]!);
    assert(seen.slice(0, at).every((c) => (c as { label: string }).label === "old"), JSON.stringify(seen));
    assertEquals(seen.slice(at + 1), [{ label: "new", i: 1 }, { label: "new", i: 2 }]);
  } finally {
    client.close();
  }
});

Deno.test("e2e: the server drops the network permission; a plugin granted net hosts reaches them from its own host", async (t) => {
  await using tmp = await tempDir();
  const net = `export default { name: "net", summary: "Connects", async run() {
    try { (await Deno.connect({ hostname: "127.0.0.1", port: 1 })).close(); return "connected"; }
    catch (err) { return err.name; } } };`;
  const plugins = await pluginDir(tmp.dir, { "net.js": net });
  await t.step("no grant: dropped", async () => {
    await using server = await startServer(`${tmp.dir}/a.sock`, [
      "--plugins",
      plugins,
      "--log-level",
      "debug",
    ]);
    await waitFor(
      () => server.stderr().includes("Dropped the network permission"),
      5000,
      "the drop log line",
    );
    const r = await runSockd(["call", "--socket", server.path, "net"]);
    assertEquals(r.stdout.trim(), "NotCapable");
  });
  await t.step("granted: the server still drops it, and the plugin may connect to its host", async () => {
    await Deno.writeTextFile(
      `${plugins}/sockd.json`,
      JSON.stringify({ plugins: { "net.js": { net: ["127.0.0.1:1"] } } }),
    );
    await using server = await startServer(`${tmp.dir}/b.sock`, [
      "--plugins",
      plugins,
      "--log-level",
      "debug",
    ]);
    await waitFor(
      () => server.stderr().includes("Dropped the network permission"),
      5000,
      "the drop log line",
    );
    const r = await runSockd(["call", "--socket", server.path, "net"]);
    assertEquals(r.stdout.trim(), "ConnectionRefused", "allowed to try; nobody listens on port 1");
  });
  await t.step("an inline plugin granted net: the server keeps it and says so", async () => {
    await Deno.writeTextFile(
      `${plugins}/sockd.json`,
      JSON.stringify({ plugins: { "net.js": { net: ["127.0.0.1:1"], sandbox: "inline" } } }),
    );
    await using server = await startServer(`${tmp.dir}/c.sock`, ["--plugins", plugins]);
    await waitFor(
      () => server.stderr().includes("Keeping the network permission: plugins are granted net hosts"),
      5000,
      "the keep log line",
    );
    const r = await runSockd(["call", "--socket", server.path, "net"]);
    assertEquals(r.stdout.trim(), "ConnectionRefused");
  });
});

Deno.test("e2e: sockd init makes a plugin directory that deno check accepts and sockd serves", async () => {
  await using tmp = await tempDir();
  const dir = `${tmp.dir}/mine`;
  const init = await runSockd(["init", dir]);
  assertEquals(init.code, 0, init.stderr);
  assertIncludes(init.stdout, `created ${dir}/hello.ts`);
  const denoJson = JSON.parse(await Deno.readTextFile(`${dir}/deno.json`));
  assertEquals([denoJson.imports.sockd, JSON.stringify(denoJson).includes(ROOT)], ["./.sockd/mod.ts", false]);

  const check = await new Deno.Command(DENO, {
    args: ["check", "-q", "hello.ts"],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  assertEquals(check.code, 0, new TextDecoder().decode(check.stderr));
  await Deno.writeTextFile(
    `${dir}/typo.ts`,
    `import type { Command } from "sockd";\nexport default { name: "t", summary: "x", run: (ctx) => ctx.argz } satisfies Command;\n`,
  );
  const bad = await new Deno.Command(DENO, {
    args: ["check", "-q", "typo.ts"],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  assertEquals(bad.code, 1, "a typo in a plugin is a type error");
  assertIncludes(new TextDecoder().decode(bad.stderr), "argz");
  await Deno.remove(`${dir}/typo.ts`);

  const again = await runSockd(["init", dir]);
  assertIncludes(again.stdout, "kept    ");

  await using server = await startServer(`${tmp.dir}/s.sock`, ["--plugins", dir]);
  const r = await runSockd(["call", "--socket", server.path, "hello", "--shout", "ops"]);
  assertEquals(r.stdout, "HELLO, OPS (VISIT 1)\n");
});
