/**
 * Plugin host processes, from a server in the test process: real sockets,
 * real host processes, plugin files written into temp directories. (The
 * attacks a hostile plugin can try are in tests/plugins/attacks/.)
 */
import { connect } from "../../lib/client.ts";
import { Status } from "../../lib/errors.ts";
import { silentLogger } from "../../lib/log.ts";
import { DEFAULT_SANDBOX_OPTIONS } from "../../lib/runner/host_options.ts";
import { PluginHost } from "../../lib/runner/plugin_host.ts";
import { PluginState } from "../../lib/runner/state.ts";
import type { Chunk, Context } from "../../lib/command.ts";
import { assert, assertEquals, assertIncludes, assertMatch, assertStatus, caught } from "../assert.ts";
import { tempDir, waitFor } from "../_helpers.ts";
import { pluginServer } from "./_plugin_server.ts";

const HOSTNAME = `export default {
  name: "host", summary: "Read /etc/hostname", access: "read",
  run: () => Deno.readTextFileSync("/etc/hostname").trim(),
};`;

Deno.test("plugin host: reading /etc/hostname without a grant names the permission and the grant; granted, it reads", async () => {
  await using tmp = await tempDir();
  await using server = await pluginServer(tmp.dir, { "host.js": HOSTNAME });
  const client = await connect(server.path);
  try {
    const err = await caught(client.call("host").result);
    assertStatus(err, Status.HANDLER_ERROR);
    assertIncludes(err.message, 'Requires read access to "/etc/hostname"');
    assertIncludes(
      err.message,
      `grant it with "read": ["/etc/hostname"] for host.js in ${tmp.dir}/cmds/sockd.json`,
    );

    await Deno.writeTextFile(
      `${tmp.dir}/cmds/sockd.json`,
      JSON.stringify({ plugins: { "host.js": { read: ["/etc/hostname"] } } }),
    );
    const report = await server.reload();
    assertEquals(report.loaded, [`${tmp.dir}/cmds/host.js`]);
    assertEquals(await client.call("host").result, (await Deno.readTextFile("/etc/hostname")).trim());
    assertEquals(server.plugins()[0]!.grants, { read: ["/etc/hostname"] });
  } finally {
    client.close();
  }
});

Deno.test("plugin host: everything is denied by default, and each error names its grant", async (t) => {
  await using tmp = await tempDir();
  const probe = `export default { name: "probe", summary: "Touch one thing", args: [{ name: "what" }],
    async run(ctx) {
      switch (ctx.args[0]) {
        case "env": return Deno.env.get("HOME");
        case "net": return (await Deno.connect({ hostname: "127.0.0.1", port: 9 })).close();
        case "write": return Deno.writeTextFileSync("${tmp.dir}/x", "1");
        case "run": return await new Deno.Command("deno", { args: ["--version"] }).output();
        case "sys": return Deno.hostname();
        case "read": return Deno.readDirSync("${tmp.dir}").toArray().length;
        case "import": return await import(["https://example.com", "x.ts"].join("/"));
      }
    } };`;
  await using server = await pluginServer(tmp.dir, { "probe.js": probe });
  const client = await connect(server.path);
  const cases: [string, string][] = [
    ["env", '"env": ["HOME"]'],
    ["net", '"net": ["127.0.0.1:9"]'],
    ["write", `"write": ["${tmp.dir}/x"]`],
    ["run", '"run": ["deno"]'],
    ["sys", '"sys": ["hostname"]'],
    ["read", `"read": ["${tmp.dir}"]`],
    ["import", '"import": ["https://example.com/"]'],
  ];
  try {
    for (const [what, grant] of cases) {
      await t.step(`${what} is denied, naming ${grant}`, async () => {
        const err = await caught(client.call("probe", [what]).result);
        assertStatus(err, Status.HANDLER_ERROR);
        assertIncludes(err.message, `Requires ${what} access to`);
        assertIncludes(err.message, `grant it with ${grant} for probe.js`);
      });
    }
  } finally {
    client.close();
  }
});

Deno.test("plugin host: a grant the server does not hold is a load failure that names it", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(`${tmp.dir}/cmds`);
  await Deno.writeTextFile(
    `${tmp.dir}/cmds/sockd.json`,
    JSON.stringify({ plugins: { "ls.js": { run: ["ls"] } } }),
  );
  await using server = await pluginServer(tmp.dir, {
    "ls.js": `export default { name: "ls", summary: "x", run: () => 1 };`,
  });
  const [status] = server.plugins();
  assertEquals(status!.state, "failed");
  assertIncludes(status!.error!, 'it is granted run "ls", which sockd itself does not hold');
  assertEquals(server.commands().some((c) => c.name === "ls"), false);
});

Deno.test("plugin host: a bad sockd.json fails with the file and key named", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(`${tmp.dir}/cmds`);
  await Deno.writeTextFile(
    `${tmp.dir}/cmds/sockd.json`,
    JSON.stringify({ plugins: { "a.js": { reads: [] } } }),
  );
  await using server = await pluginServer(tmp.dir, {
    "a.js": `export default { name: "a", summary: "x", run: () => 1 };`,
  });
  const failure = server.loadFailures.find((f) => f.file.endsWith("sockd.json"));
  assert(failure, "the config is reported");
  assertIncludes(failure.error, `plugins["a.js"]: unknown key "reads"`);
});

const ERRORS = `export default [
  { name: "boom", summary: "Throws", run() { throw new Error("kaput"); } },
  { name: "bad-args", summary: "Throws a status", run() { throw Object.assign(new Error("No such thing"), { status: 110 }); } },
  { name: "crash", summary: "Crashes its worker", run() { setTimeout(() => { throw new Error("async kaput"); }); return new Promise(() => {}); } },
  { name: "quit", summary: "Exits its worker", run() { Deno.exit(3); } },
  { name: "visits", summary: "Counts", run(ctx) { const n = (ctx.state.get("n") ?? 0) + 1; ctx.state.set("n", n); return n; } },
  { name: "clone", summary: "Stores a function", run(ctx) { ctx.state.set("f", () => 1); } },
];`;

Deno.test("plugin host: a throw answers 105 with its message; a crash answers 105 and the host restarts with its state", async () => {
  await using tmp = await tempDir();
  await using server = await pluginServer(tmp.dir, { "errors.js": ERRORS });
  const client = await connect(server.path);
  try {
    const boom = await caught(client.call("boom").result);
    assertStatus(boom, Status.HANDLER_ERROR);
    assertEquals(boom.message, "kaput");
    assertStatus(await caught(client.call("bad-args").result), Status.BAD_ARGS);

    assertEquals(await client.call("visits").result, 1);
    const crash = await caught(client.call("crash").result);
    assertStatus(crash, Status.HANDLER_ERROR);
    assertIncludes(crash.message, "Plugin errors.js crashed: async kaput");
    assertEquals(
      await client.call("visits").result,
      2,
      "state lives in the server, so it survives the crash",
    );
    const quit = await caught(client.call("quit").result);
    assertIncludes(quit.message, "Deno.exit()");
    assertEquals(await client.call("visits").result, 3);
    assertEquals(server.plugins()[0]!.restarts, 2);

    const clone = await caught(client.call("clone").result);
    assertStatus(clone, Status.HANDLER_ERROR);
    assertIncludes(clone.message, 'State value for "f" could not be stored: a function is not data');
    assertEquals(await client.call("ping").result, "pong");
  } finally {
    client.close();
  }
});

Deno.test("plugin host: a call that ignores its deadline is stopped after the grace period; its host's other calls end with 105", async () => {
  await using tmp = await tempDir();
  const plugin = `export default [
    { name: "hang", summary: "Ignores its signal", timeout: 200, run: () => new Promise(() => {}) },
    { name: "slow", summary: "Answers after 5 s", run: () => new Promise((r) => setTimeout(() => r("late"), 5000)) },
    { name: "fast", summary: "Answers", run: () => "fast" },
  ];`;
  await using server = await pluginServer(tmp.dir, { "hang.js": plugin }, { sandbox: { graceMs: 300 } });
  const a = await connect(server.path);
  const b = await connect(server.path);
  try {
    // The host runs before the deadline starts counting (else "hang" could time out waiting for it to start).
    assertEquals(await a.call("fast").result, "fast");
    const t0 = performance.now();
    const slow = a.call("slow").result;
    const hang = caught(a.call("hang").result);
    let pings = 0;
    while (performance.now() - t0 < 700) {
      assertEquals(await b.call("ping").result, "pong");
      pings++;
    }
    const timedOut = await hang;
    assertStatus(timedOut, Status.TIMEOUT);
    const other = await caught(slow);
    assertStatus(other, Status.HANDLER_ERROR);
    assertIncludes(other.message, 'call "hang" did not stop within 300 ms after its deadline passed');
    assert(performance.now() - t0 < 2000, "ended by deadline + grace");
    assert(pings > 10, `ping kept answering (${pings})`);
    assertEquals(await b.call("fast").result, "fast", "a new host serves the plugin");
    assertEquals(server.plugins()[0]!.restarts, 1);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("plugin host: input is forwarded to the host, and a stream's chunks arrive in order", async () => {
  await using tmp = await tempDir();
  const plugin = `export default [
    { name: "upper", summary: "Upper-cases its input", async run(ctx) {
      let s = ""; for await (const c of ctx.input.pipeThrough(new TextDecoderStream())) s += c; return s.toUpperCase(); } },
    { name: "nums", summary: "Streams N numbers", args: [{ name: "n" }], async *run(ctx) {
      for (let i = 0; i < Number(ctx.args[0]); i++) yield i; return "done"; } },
    { name: "who", summary: "The caller and the server", run: (ctx) => ({ conn: ctx.caller.connection,
      server: ctx.server.name, sees: ctx.server.commands("read").some((c) => c.name === "ping"),
      reload: typeof ctx.server.reload }) },
  ];`;
  await using server = await pluginServer(tmp.dir, { "io.js": plugin });
  const client = await connect(server.path);
  try {
    const big = "abc\n".repeat(100_000);
    assertEquals(await client.call("upper", [], { input: big }).result, big.toUpperCase());
    const call = client.call("nums", ["1000"]);
    const got: Chunk[] = [];
    for await (const chunk of call) got.push(chunk);
    assertEquals(got, Array.from({ length: 1000 }, (_, i) => i));
    assertEquals(await call.result, "done");
    const who = await client.call("who").result as Record<string, unknown>;
    assertEquals(who.server, "sockd");
    assertEquals(who.sees, true);
    assertEquals(who.reload, "undefined", "a plugin in a host cannot reload the server");
  } finally {
    client.close();
  }
});

Deno.test("plugin host: a host produces at most its chunk credit ahead of the reader", async () => {
  await using tmp = await tempDir();
  const file = `${tmp.dir}/gen.js`;
  await Deno.writeTextFile(
    file,
    `export default { name: "gen", summary: "Counts forever", async *run(ctx) {
      for (let i = 1; !ctx.signal.aborted; i++) { ctx.state.set("produced", i); yield i; } } };`,
  );
  const state = new PluginState();
  const options = { ...DEFAULT_SANDBOX_OPTIONS, chunkCredit: 8 };
  const host = await PluginHost.load({
    file,
    grants: {},
    configFile: `${tmp.dir}/sockd.json`,
    state,
    view: () => ({ name: "sockd", version: "test", commands: [] }),
    logger: silentLogger,
    options,
  });
  const ctrl = new AbortController();
  const ctx = {
    command: "gen",
    args: [],
    flags: {},
    signal: ctrl.signal,
    input: new ReadableStream({ start: (c) => c.close() }),
    log: silentLogger,
    state: state.map,
    caller: { connection: 1, dialect: "test", access: "admin" },
    server: { name: "sockd", version: "test", commands: () => [] },
  } satisfies Context;
  try {
    const gen = host.run("gen", ctx);
    assertEquals((await gen.next()).value, 1);
    await new Promise((r) => setTimeout(r, 300));
    const ahead = state.map.get("produced") as number;
    assert(ahead <= 8 + 1, `produced ${ahead} chunks with one read and a credit of 8`);
    for (let i = 2; i <= 40; i++) assertEquals((await gen.next()).value, i);
    ctrl.abort(new Error("done"));
    await gen.return(undefined);
    await waitFor(() => host.calls === 0, 3000, "the call to settle");
  } finally {
    host.close();
  }
});

Deno.test("plugin host: each running host's memory and pid are shown by `plugins`", async () => {
  await using tmp = await tempDir();
  const files: Record<string, string> = {};
  for (let i = 0; i < 4; i++) {
    files[`p${i}.js`] = `export default { name: "p${i}", summary: "x", run: () => ${i} };`;
  }
  await using server = await pluginServer(tmp.dir, files);
  const client = await connect(server.path);
  try {
    type Status = { memoryBytes?: number; state: string; pid?: number; host?: string };
    // Hosts start on first use.
    for (let i = 0; i < 4; i++) assertEquals(await client.call(`p${i}`).result, i);
    let list: Status[] = [];
    await waitFor(
      async () => {
        list = await client.call("plugins", ["--json"]).result as Status[];
        return list.every((p) => p.memoryBytes !== undefined);
      },
      5000,
      "every host to report its memory",
    );
    assertEquals(list.length, 4);
    const pids = new Set(list.map((p) => p.pid));
    assertEquals(pids.size, 4, "one host process per plugin file");
    for (const p of list) {
      assertEquals(p.state, "loaded");
      assertEquals(p.host, "running");
      const ps = await new Deno.Command("ps", { args: ["-o", "args=", "-p", String(p.pid)] }).output();
      assertIncludes(new TextDecoder().decode(ps.stdout), "host_main.ts", "pid is the plugin's host");
      assert(
        typeof p.memoryBytes === "number" && p.memoryBytes > 1 << 20 && p.memoryBytes < 512 * 1024 * 1024,
        `memory ${p.memoryBytes}`,
      );
    }
    const text = await client.call("plugins").result as string;
    assertMatch(text, /^FILE +STATE +RUNNER +COMMANDS +GRANTS +HOST +MEMORY +ACTIVITY\n/);
    assertMatch(text, /p0\.js +loaded v1 +process +p0 +no grants +\d+ +[\d.]+ MiB +-\n/);
  } finally {
    client.close();
  }
});

Deno.test("plugin host: a plugin's static import of a helper file needs no read grant", async () => {
  await using tmp = await tempDir();
  await using server = await pluginServer(tmp.dir, {
    "_lib.js": `export const greeting = (who) => "hello " + who;`,
    "uses.js": `import { greeting } from "./_lib.js";
      export default { name: "uses", summary: "x", run: () => greeting("helper") };`,
  });
  const client = await connect(server.path);
  try {
    assertEquals(await client.call("uses").result, "hello helper");
    assertEquals(server.plugins().length, 1, "_lib.js is not a plugin");
  } finally {
    client.close();
  }
});

Deno.test("plugin host: a host that keeps failing is restarted with backoff, then disabled until a reload", async () => {
  await using tmp = await tempDir();
  const plugin = `export default [
    { name: "quit", summary: "Ends its host", run() { Deno.exit(3); } },
    { name: "ok", summary: "Answers", run: () => "ok" },
  ];`;
  await using server = await pluginServer(tmp.dir, { "flaky.js": plugin }, {
    sandbox: { maxFailures: 3, restartBackoffMs: 10 },
  });
  const client = await connect(server.path);
  try {
    for (let i = 1; i <= 2; i++) {
      assertIncludes(
        (await caught(client.call("quit").result)).message,
        "The plugin ended its host (Deno.exit())",
      );
      assertEquals(await client.call("ok").result, "ok", `restarted after failure ${i}`);
    }
    await caught(client.call("quit").result);
    const [status] = server.plugins();
    assertEquals(status!.state, "disabled");
    assertIncludes(status!.error!, "Plugin flaky.js is disabled: its host failed 3 times within 60 s");
    assertEquals(status!.pid, undefined, "no host runs");
    const off = await caught(client.call("ok").result);
    assertStatus(off, Status.HANDLER_ERROR);
    assertIncludes(off.message, "is disabled");
    assertEquals(await client.call("ping").result, "pong");

    const report = await server.reload();
    assertEquals(report.loaded.length, 1, "a disabled plugin loads again on reload, changed or not");
    assertEquals(await client.call("ok").result, "ok");
  } finally {
    client.close();
  }
});

Deno.test("plugin host: state is held to its byte budget in the host, and a host that sends past it is stopped", async () => {
  await using tmp = await tempDir();
  const plugin = `export default [
    { name: "put", summary: "Stores 1 MiB", args: [{ name: "key" }], run(ctx) {
      ctx.state.set(ctx.args[0], "x".repeat(1 << 20)); return ctx.state.size; } },
    { name: "forge", summary: "Sends state past the budget, bypassing the harness", async run() {
      // Raw msgpack {t: "state", op: {op: "set", key: "fN", value: 60 KiB}} frames on the host's channel.
      const enc = (s) => new TextEncoder().encode(s);
      const value = "y".repeat(16 * 1024);
      for (let n = 0; n < 200; n++) {
        const key = "f" + String(n).padStart(3, "0");
        const body = [0x82, 0xa1, 0x74, 0xa5, ...enc("state"), 0xa2, ...enc("op"), 0x83, 0xa2, ...enc("op"), 0xa3,
          ...enc("set"), 0xa3, ...enc("key"), 0xa4, ...enc(key), 0xa5, ...enc("value"), 0xda,
          value.length >> 8, value.length & 255];
        const bytes = new Uint8Array(4 + body.length + value.length);
        new DataView(bytes.buffer).setUint32(0, body.length + value.length);
        bytes.set(body, 4);
        bytes.set(enc(value), 4 + body.length);
        // Small frames fit the pipe's buffer: Deno.stdout's write on the (non-blocking) pipe goes through.
        await Deno.stdout.write(bytes);
        await new Promise((r) => setTimeout(r, 1));
      }
      await new Promise((r) => setTimeout(r, 5000));
    } },
  ];`;
  await using server = await pluginServer(tmp.dir, { "hoard.js": plugin }, {
    sandbox: { maxStateBytes: 2.5 * (1 << 20), restartBackoffMs: 10 },
  });
  const client = await connect(server.path);
  try {
    assertEquals(await client.call("put", ["a"]).result, 1);
    assertEquals(await client.call("put", ["b"]).result, 2);
    const full = await caught(client.call("put", ["c"]).result);
    assertStatus(full, Status.HANDLER_ERROR);
    assertEquals(full.message, "Plugin state is full (2 MiB)");
    const forged = await caught(client.call("forge").result);
    assertIncludes(
      forged.message,
      "Plugin hoard.js went over its state budget of 2 MiB: its host was stopped",
    );
    const keys = await client.call("put", ["a"]).result as number;
    assert(keys > 2 && keys < 2 + 200, `the state kept what fit (${keys} keys) and the host restarted`);
  } finally {
    client.close();
  }
});

Deno.test("plugin host: a host that spins between calls, where no deadline reaches, is killed when it stops answering", async () => {
  await using tmp = await tempDir();
  const plugin = `export default [
    { name: "later", summary: "Answers, then spins", run() { setTimeout(() => { while (true) {} }, 10); return "ok"; } },
    { name: "ok", summary: "Answers", run: () => "ok" },
  ];`;
  await using server = await pluginServer(tmp.dir, { "spinner.js": plugin }, {
    sandbox: { unresponsiveMs: 600, restartBackoffMs: 10 },
  });
  const client = await connect(server.path);
  try {
    assertEquals(await client.call("later").result, "ok");
    const before = server.plugins()[0]!.pid;
    assert(before !== undefined, "the call started a host");
    await waitFor(() => server.plugins()[0]!.restarts === 1, 5000, "the silent host to be killed");
    assert(server.plugins()[0]!.pid !== before);
    assertEquals(await client.call("ok").result, "ok", "a new host serves");
  } finally {
    client.close();
  }
});
