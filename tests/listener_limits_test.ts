/**
 * Each listener has its own connection and call limits, and a read listener
 * gives idle connections back sooner: a flood on one socket never takes
 * another's capacity. Refused connections are answered 109 in their dialect.
 */
import { connect } from "../lib/client.ts";
import type { Command } from "../lib/command.ts";
import { decode } from "../lib/codec.ts";
import { FrameDecoder } from "../lib/dialects/_frame_decoder.ts";
import { MSGPACK_PREFACE } from "../lib/dialects/msgpack.ts";
import { Status } from "../lib/errors.ts";
import { DEFAULT_LIMITS, listenerLimits } from "../lib/limits.ts";
import { serve, type ServeOptions } from "../lib/server.ts";
import { assert, assertEquals, assertIncludes, assertStatus, assertThrows, caught } from "./assert.ts";
import { readToEnd, tempDir } from "./_helpers.ts";

const commands: Command[] = [{
  name: "sleep",
  summary: "Sleep for the given ms",
  access: "read",
  args: [{ name: "ms" }],
  run: (ctx) => new Promise((r) => setTimeout(() => r("slept"), Number(ctx.args[0]))),
}];

async function withServer(
  options: Partial<ServeOptions>,
  fn: (paths: { admin: string; ro: string }) => Promise<void>,
) {
  await using tmp = await tempDir();
  const ro = `${tmp.dir}/ro.sock`;
  const server = await serve({
    path: `${tmp.dir}/admin.sock`,
    commands,
    ...options,
    listeners: options.listeners?.map((l) => ({ ...l, path: ro })) ?? [{ path: ro, access: "read" }],
  });
  try {
    await fn({ admin: server.path, ro });
  } finally {
    await server.close({ drainMs: 0 });
  }
}

Deno.test("listener limits: defaults come from the server's limits; read sockets idle out sooner", () => {
  const limits = { ...DEFAULT_LIMITS };
  assertEquals(listenerLimits(limits, "admin"), {
    maxConnections: 1024,
    maxCalls: 1024,
    maxCallsPerConnection: 128,
    idleTimeoutMs: 900_000,
  });
  assertEquals(listenerLimits(limits, "operate").idleTimeoutMs, 900_000);
  assertEquals(listenerLimits(limits, "read").idleTimeoutMs, 60_000);
  // The shorter of the two; 0 means the same as idleTimeoutMs.
  assertEquals(listenerLimits({ ...limits, idleTimeoutMs: 10_000 }, "read").idleTimeoutMs, 10_000);
  assertEquals(listenerLimits({ ...limits, readIdleTimeoutMs: 0 }, "read").idleTimeoutMs, 900_000);
  assertEquals(listenerLimits({ ...limits, idleTimeoutMs: 0 }, "read").idleTimeoutMs, 60_000);
  // A listener's own settings win.
  assertEquals(
    listenerLimits(limits, "read", { maxConnections: 5, idleTimeoutMs: 1000 }),
    { maxConnections: 5, maxCalls: 1024, maxCallsPerConnection: 128, idleTimeoutMs: 1000 },
  );
  assertThrows(() => listenerLimits(limits, "read", { maxCalls: -1 }), /maxCalls must be a non-negative/);
});

Deno.test("listener limits: a full read socket refuses with 109 in each dialect; admin is unaffected", async () => {
  await withServer(
    { listeners: [{ path: "", access: "read", limits: { maxConnections: 2 } }] },
    async (p) => {
      const held = [await connect(p.ro), await connect(p.ro)];
      await held[0]!.call("ping").result;

      const text = await Deno.connect({ transport: "unix", path: p.ro });
      await text.write(new TextEncoder().encode("ping\n"));
      assertEquals(
        new TextDecoder().decode(await readToEnd(text)),
        "error 109: too many connections (limit 2)\n",
      );
      text.close();

      const jsonl = await Deno.connect({ transport: "unix", path: p.ro });
      await jsonl.write(new TextEncoder().encode('{"id":1,"command":"ping"}\n'));
      assertEquals(JSON.parse(new TextDecoder().decode(await readToEnd(jsonl))), {
        id: null,
        status: 109,
        name: "BUSY",
        error: "too many connections (limit 2)",
      });
      jsonl.close();

      const raw = await Deno.connect({ transport: "unix", path: p.ro });
      await raw.write(MSGPACK_PREFACE);
      const frames = new FrameDecoder(1 << 20).push(await readToEnd(raw)).map((f) => decode(f));
      assertEquals(frames, [{ type: "end", id: null, status: 109, error: "too many connections (limit 2)" }]);
      raw.close();

      const err = await caught(connect(p.ro));
      assertStatus(err, Status.BUSY);
      assertEquals(err.message, "too many connections (limit 2)");

      // A client that sends nothing gets the text line once the server stops waiting for its first bytes.
      const silent = await Deno.connect({ transport: "unix", path: p.ro });
      assertEquals(
        new TextDecoder().decode(await readToEnd(silent)),
        "error 109: too many connections (limit 2)\n",
      );
      silent.close();

      const admin = await connect(p.admin);
      assertEquals(await admin.call("ping").result, "pong");
      admin.close();
      for (const c of held) c.close();
    },
  );
});

Deno.test("listener limits: calls in flight are counted per listener", async () => {
  await withServer({ listeners: [{ path: "", access: "read", limits: { maxCalls: 2 } }] }, async (p) => {
    const a = await connect(p.ro);
    const b = await connect(p.ro);
    const c = await connect(p.ro);
    const admin = await connect(p.admin);
    const slow = [a.call("sleep", ["300"]).result, b.call("sleep", ["300"]).result];
    const third = await caught(c.call("sleep", ["1"]).result);
    assertStatus(third, Status.BUSY);
    assertEquals(third.message, "Too many calls in flight on this socket (limit 2)");
    // The admin socket has its own pool.
    assertEquals(await admin.call("sleep", ["1"]).result, "slept");
    assertEquals(await Promise.all(slow), ["slept", "slept"]);
    // Once they end, the read socket takes calls again.
    assertEquals(await c.call("sleep", ["1"]).result, "slept");
    for (const x of [a, b, c, admin]) x.close();
  });
});

Deno.test("listener limits: an idle read connection gives its slot back sooner than an admin one", async () => {
  await withServer({ limits: { readIdleTimeoutMs: 200 } }, async (p) => {
    const ro = await connect(p.ro);
    const admin = await connect(p.admin);
    assertEquals(await ro.call("ping").result, "pong");
    assertEquals(await admin.call("ping").result, "pong");
    const t0 = Date.now();
    await ro.closed;
    assert(Date.now() - t0 < 2000, "closed after about 200 ms");
    const err = await caught(ro.call("ping").result);
    assertStatus(err, Status.TIMEOUT);
    assertIncludes(err.message, "Idle for");
    // The admin connection has the server's 15-minute idle timeout.
    assertEquals(await admin.call("ping").result, "pong");
    admin.close();
  });
});
