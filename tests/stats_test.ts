import { LATENCY_WINDOW, MAX_TRACKED_COMMANDS, Stats } from "../lib/stats.ts";
import { assertEquals } from "./assert.ts";
import { serve } from "../lib/server.ts";
import { connect } from "../lib/client.ts";
import type { StatsSnapshot } from "../lib/stats.ts";
import { tempDir, waitFor } from "./_helpers.ts";

Deno.test("stats: calls, errors by status, and percentiles per command", () => {
  const s = new Stats();
  for (let i = 1; i <= 100; i++) s.callEnded("get", i % 10 === 0 ? 105 : 0, i);
  const snap = s.snapshot(3);
  assertEquals(snap.calls, { total: 100, inFlight: 3, errors: 10 });
  assertEquals(snap.commands.get, { calls: 100, errors: { "105": 10 }, p50Ms: 50, p99Ms: 99 });
});

Deno.test("stats: percentiles cover only the most recent window", () => {
  const s = new Stats();
  for (let i = 0; i < LATENCY_WINDOW; i++) s.callEnded("x", 0, 1000);
  for (let i = 0; i < LATENCY_WINDOW; i++) s.callEnded("x", 0, 1);
  assertEquals(s.snapshot().commands.x!.p99Ms, 1);
});

Deno.test("stats: connections are counted by dialect and by listener", () => {
  const s = new Stats();
  s.connected();
  s.connected();
  s.connected();
  s.dialect("/run/a.sock", "text", 1);
  s.dialect("/run/a.sock", "msgpack", 1);
  s.dialect("/run/ro.sock", "msgpack", 1);
  s.dialect("/run/a.sock", "text", -1);
  s.refused();
  assertEquals(s.snapshot().connections, {
    open: 2,
    total: 3,
    refused: 1,
    dropped: 0,
    byDialect: { msgpack: 2 },
    byListener: { "/run/a.sock": 1, "/run/ro.sock": 1 },
  });
});

Deno.test("stats: unknown command names cannot grow the table without bound", () => {
  const s = new Stats();
  for (let i = 0; i < MAX_TRACKED_COMMANDS + 500; i++) s.callEnded(`typo${i}`, 101, 1);
  const names = Object.keys(s.snapshot().commands);
  assertEquals(names.length, MAX_TRACKED_COMMANDS + 1);
  assertEquals(s.snapshot().commands["(other)"]!.calls, 500);
});

Deno.test("stats: 30 clients that drop their connection (reset) are counted, and logged at debug, never WARN", async () => {
  await using tmp = await tempDir();
  const levels: string[] = [];
  const log = (level: string) => (msg: string) => levels.push(`${level} ${msg}`);
  const logger = { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
  const server = await serve({ path: `${tmp.dir}/s.sock`, logger });
  const client = await connect(server.path);
  const stats = async () => await client.call("stats").result as StatsSnapshot;
  try {
    for (let i = 0; i < 30; i++) {
      const conn = await Deno.connect({ transport: "unix", path: server.path });
      await conn.write(new TextEncoder().encode("ping\n"));
      // Wait for the answer, leave it unread and close: the kernel resets the connection.
      await waitFor(async () => (await stats()).commands.ping?.calls === i + 1, 5_000, "the ping answered");
      conn.close();
    }
    await waitFor(async () => (await stats()).connections.dropped === 30, 5_000, "30 dropped connections");
    assertEquals(levels.filter((l) => l.startsWith("warn") || l.startsWith("error")), []);
    assertEquals(levels.filter((l) => l === "debug Client went away").length, 30);
  } finally {
    client.close();
    await server.close({ drainMs: 0 });
  }
});
