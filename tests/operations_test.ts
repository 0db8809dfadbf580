/** Issue 6 in process: several sockets with access levels, and the observability built-ins. */
import { stderrLogger } from "../lib/cli/logger.ts";
import { connect } from "../lib/client.ts";
import type { Command, ConnectionInfo, ServerStatus, StatsSnapshot } from "../lib/command.ts";
import { Status } from "../lib/errors.ts";
import { serve } from "../lib/server.ts";
import { assert, assertEquals, assertIncludes, assertRejects, assertStatus, caught } from "./assert.ts";
import { tempDir } from "./_helpers.ts";

const commands: Command[] = [
  { name: "peek", summary: "Read something", access: "read", run: () => "peeked" },
  { name: "poke", summary: "Change something", access: "operate", run: () => "poked" },
  { name: "wipe", summary: "Dangerous", access: "admin", run: () => "wiped" },
  { name: "boom", summary: "Fails", access: "read", run: () => Promise.reject(new Error("Boom")) },
];

Deno.test("operations: each socket has its own access level; help lists only what it may call", async () => {
  await using tmp = await tempDir();
  const server = await serve({
    path: `${tmp.dir}/admin.sock`,
    commands,
    listeners: [
      { path: `${tmp.dir}/ro.sock`, access: "read", mode: 0o666 },
      { path: `${tmp.dir}/ops.sock`, access: "operate", mode: 0o660 },
    ],
  });
  try {
    assertEquals(server.listeners.map((l) => [l.path.split("/").pop(), l.access, l.mode]), [
      ["admin.sock", "admin", 0o600],
      ["ro.sock", "read", 0o666],
      ["ops.sock", "operate", 0o660],
    ]);
    assertEquals((await Deno.lstat(`${tmp.dir}/ro.sock`)).mode! & 0o777, 0o666);
    const expect: Record<string, Record<string, string | number>> = {
      "admin.sock": { peek: "peeked", poke: "poked", wipe: "wiped" },
      "ops.sock": { peek: "peeked", poke: "poked", wipe: Status.FORBIDDEN },
      "ro.sock": { peek: "peeked", poke: Status.FORBIDDEN, wipe: Status.FORBIDDEN },
    };
    for (const [sock, answers] of Object.entries(expect)) {
      const c = await connect(`${tmp.dir}/${sock}`);
      for (const [cmd, want] of Object.entries(answers)) {
        if (typeof want === "string") assertEquals(await c.call(cmd).result, want, `${sock} ${cmd}`);
        else assertStatus(await caught(c.call(cmd).result), want);
      }
      const help = await c.call("help").result as string;
      for (const [cmd, want] of Object.entries(answers)) {
        assertEquals(
          help.includes(`\n${cmd} `) || help.startsWith(`${cmd} `),
          typeof want === "string",
          `${sock} help ${cmd}`,
        );
      }
      c.close();
    }
    const ro = await connect(`${tmp.dir}/ro.sock`);
    const err = await caught(ro.call("wipe").result);
    assertIncludes(err.message, "needs access level admin; this socket allows read");
    ro.close();
  } finally {
    await server.close();
  }
});

Deno.test("operations: stats counts calls, errors and connections by dialect and socket", async () => {
  await using tmp = await tempDir();
  const server = await serve({
    path: `${tmp.dir}/a.sock`,
    commands,
    listeners: [{ path: `${tmp.dir}/ro.sock`, access: "read" }],
  });
  try {
    const a = await connect(`${tmp.dir}/a.sock`);
    const ro = await connect(`${tmp.dir}/ro.sock`);
    for (let i = 0; i < 5; i++) await a.call("peek").result;
    await caught(a.call("boom").result);
    await caught(a.call("pkee").result);
    await caught(ro.call("wipe").result);
    const stats = await ro.call("stats").result as StatsSnapshot;
    assertEquals(stats.commands.peek!.calls, 5);
    assertEquals(stats.commands.boom!.errors, { "105": 1 });
    assertEquals(stats.commands["(unknown)"]!.errors, { "101": 1 });
    assertEquals(stats.commands.wipe!.errors, { "107": 1 });
    assertEquals(stats.calls.errors, 3);
    assertEquals(stats.connections.byDialect, { msgpack: 2 });
    assertEquals(stats.connections.byListener, { [`${tmp.dir}/a.sock`]: 1, [`${tmp.dir}/ro.sock`]: 1 });
    assert(stats.commands.peek!.p99Ms >= stats.commands.peek!.p50Ms);
    a.close();
    ro.close();
  } finally {
    await server.close();
  }
});

Deno.test("operations: connections lists who is connected and what they run", async () => {
  await using tmp = await tempDir();
  const started = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  const slow: Command = {
    name: "slow",
    summary: "s",
    run: () => {
      started.resolve();
      return release.promise;
    },
  };
  const server = await serve({ path: `${tmp.dir}/a.sock`, commands: [slow] });
  try {
    const a = await connect(server.path);
    const b = await connect(server.path);
    // One clock for both sides (the server runs in this process): what connections reports must
    // lie between what the test measures around it.
    const sent = performance.now();
    const running = b.call("slow").result;
    await started.promise;
    const seenRunning = performance.now();
    await new Promise((r) => setTimeout(r, 30));
    const asked = performance.now();
    const list = await a.call("connections").result as ConnectionInfo[];
    const answered = performance.now();
    assertEquals(list.length, 2);
    assertEquals(list.map((c) => [c.dialect, c.access, c.listener]), [
      ["msgpack", "admin", server.path],
      ["msgpack", "admin", server.path],
    ]);
    assertEquals(list.map((c) => c.calls).sort(), [1, 1]); // its own call to connections, and slow
    const slowCall = list.flatMap((c) => c.running).find((r) => r.command === "slow");
    assert(slowCall, `slow is listed as running: ${JSON.stringify(list)}`);
    const low = Math.floor(asked - seenRunning);
    const high = Math.ceil(answered - sent);
    assert(
      low <= slowCall.ms && slowCall.ms <= high,
      `slow ran ${slowCall.ms} ms, not within [${low}, ${high}]`,
    );
    assert(list.every((c) => !Number.isNaN(Date.parse(c.since))));
    release.resolve();
    await running;
    a.close();
    b.close();
  } finally {
    release.resolve();
    await server.close();
  }
});

Deno.test("operations: log-level shows and changes the level at run time", async () => {
  await using tmp = await tempDir();
  const lines: string[] = [];
  const logger = stderrLogger("info", "json", (l) => lines.push(l));
  const server = await serve({ path: `${tmp.dir}/a.sock`, commands, logger });
  try {
    const c = await connect(server.path);
    assertEquals(await c.call("log-level").result, "info");
    await c.call("peek").result; // read-level calls log at debug: not shown at info
    assert(!lines.some((l) => l.includes('"command":"peek"')));
    assertEquals(await c.call("log-level", ["debug"]).result, "debug");
    await c.call("peek").result;
    const call = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "Call" && l.command === "peek");
    assertEquals([call.level, call.status, typeof call.ms], ["debug", 0, "number"]);
    assertStatus(await caught(c.call("log-level", ["loud"]).result), Status.BAD_ARGS);
    // Changing things is an audit trail at info; failures are warnings.
    await c.call("log-level", ["info"]).result;
    await c.call("poke").result;
    await caught(c.call("boom").result);
    const logged = lines.map((l) => JSON.parse(l));
    assert(logged.some((l) => l.level === "info" && l.msg === "Call" && l.command === "poke"));
    assert(logged.some((l) => l.level === "warn" && l.msg === "Call failed" && l.command === "boom"));
    c.close();
  } finally {
    await server.close();
  }
});

Deno.test("operations: status shows sockets, limits and plugin failures", async () => {
  await using tmp = await tempDir();
  const dir = `${tmp.dir}/plugins`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(`${dir}/broken.js`, `export default { name: "broken", summary: "x", run( => 1 };`);
  const server = await serve({ path: `${tmp.dir}/a.sock`, plugins: [dir], limits: { maxConnections: 7 } });
  try {
    const c = await connect(server.path);
    const status = await c.call("status").result as ServerStatus;
    assertEquals(status.listeners, [{
      path: server.path,
      access: "admin",
      mode: "0600",
      connections: 1,
      limits: { maxConnections: 7, maxCalls: 1024, maxCallsPerConnection: 128, idleTimeoutMs: 900_000 },
    }]);
    assertEquals(status.limits.maxConnections, 7);
    assertEquals(status.plugins.failed.length, 1);
    assertIncludes(status.plugins.failed[0]!.file, "broken.js");
    assertEquals(status.pid, Deno.pid);
    c.close();
  } finally {
    await server.close();
  }
});

Deno.test("operations: shutdown answers, drains, and stops the server", async () => {
  await using tmp = await tempDir();
  const server = await serve({ path: `${tmp.dir}/a.sock` });
  const c = await connect(server.path);
  assertEquals(await c.call("shutdown", ["--drain", "100"]).result, "stopping");
  await server.finished;
  await c.closed;
  assert(!(await Deno.lstat(server.path).then(() => true, () => false)), "the socket file is removed");
});

Deno.test("operations: help @read|@operate|@admin lists the commands of one access level; the hello says the socket's level", async () => {
  await using tmp = await tempDir();
  const server = await serve({
    path: `${tmp.dir}/admin.sock`,
    commands,
    builtins: true,
    listeners: [{ path: `${tmp.dir}/ro.sock`, access: "read", mode: 0o600 }],
  });
  const admin = await connect(server.path);
  const ro = await connect(`${tmp.dir}/ro.sock`);
  try {
    const names = async (c: typeof admin, group: string) =>
      (await c.call("help", [group, "--json"]).result as { name: string }[]).map((x) => x.name);
    assert((await names(admin, "@admin")).includes("wipe"));
    assertEquals((await names(admin, "@admin")).includes("peek"), false);
    assertEquals((await names(admin, "@operate")).filter((n) => ["peek", "poke", "wipe"].includes(n)), [
      "poke",
    ]);
    assertEquals(await names(ro, "@admin"), []);
    assertIncludes(await ro.call("help", ["@read"]).result as string, "peek");
    assertEquals(await ro.call("help", ["@admin"]).result, "no commands");
    const bad = await caught(admin.call("help", ["@root"]).result);
    assertStatus(bad, Status.BAD_ARGS);
    assertIncludes(bad.message, 'Unknown group "@root" (use @read, @operate or @admin)');
    assertEquals([admin.server.access, ro.server.access], ["admin", "read"]);
  } finally {
    admin.close();
    ro.close();
    await server.close({ drainMs: 0 });
  }
});

Deno.test("operations: serve({ name, version }) is what the hello, version and status report", async () => {
  await using tmp = await tempDir();
  const server = await serve({ path: `${tmp.dir}/app.sock`, name: "billing", version: "2.3.1" });
  const c = await connect(server.path);
  try {
    assertEquals([c.server.server, c.server.version], ["billing", "2.3.1"]);
    assert((await c.call("version").result as string).startsWith("billing 2.3.1 (deno "));
    const status = await c.call("status").result as ServerStatus;
    assertEquals([status.name, status.version], ["billing", "2.3.1"]);
  } finally {
    c.close();
    await server.close({ drainMs: 0 });
  }
  await assertRejects(
    () => serve({ path: `${tmp.dir}/x.sock`, name: "" }),
    TypeError,
    "serve: name must be 1-64",
  );
});
