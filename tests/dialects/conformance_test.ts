/**
 * One behaviour, three dialects: the same table of scenarios runs against
 * text, JSON lines and msgpack over a real socket of an in-process server
 * (in the manner of Hono's router conformance suite). A behaviour exists in
 * every dialect or in none; the few differences are declared by the adapter
 * (text runs calls in order, cancels by disconnecting, has no per-call
 * options; msgpack closes after a bad frame).
 */
import { connect as connectClient } from "../../lib/client.ts";
import { DIALECTS } from "../../lib/dialects/detect.ts";
import { serve, type Server } from "../../lib/server.ts";
import { statusName } from "../../lib/errors.ts";
import { assert, assertEquals } from "../assert.ts";
import { tempDir } from "../_helpers.ts";
import { ADAPTERS, type DialectAdapter, type DialectClient, type Outcome, within } from "./_clients.ts";
import { Status, type TestKit, testKit } from "./_kit.ts";

const LIMITS = { maxLineBytes: 1024, maxFrameBytes: 4096 };
const enc = new TextEncoder();
const dec = new TextDecoder();

interface Env {
  adapter: DialectAdapter;
  server: Server;
  kit: TestKit;
  client: DialectClient;
  /** Opens another connection (closed by the runner). */
  connect(): Promise<DialectClient>;
}

interface Scenario {
  name: string;
  /** Only for dialects this returns true for; every dialect when absent. */
  only?: (a: DialectAdapter) => boolean;
  run(env: Env): Promise<void>;
}

/** Checks that an outcome is an error with `status`, and its name where the dialect sends one. */
function assertError(o: Outcome, status: number, message?: string | RegExp) {
  assertEquals(o.status, status, `expected status ${status}, got ${o.status} (${o.error})`);
  assert(o.error && o.error.length > 0, "an error carries a message");
  if (o.name !== undefined) assertEquals(o.name, statusName(status));
  if (typeof message === "string") assertEquals(o.error, message);
  else if (message) assert(message.test(o.error), `${JSON.stringify(o.error)} does not match ${message}`);
}

function assertOk(o: Outcome) {
  assertEquals(o.status, Status.OK, `expected success, got ${o.status}: ${o.error}`);
}

function text(o: Outcome): string {
  return dec.decode(o.transcript);
}

let keys = 0;
const key = () => `k${++keys}`;

const SCENARIOS: Scenario[] = [
  {
    name: "a unary call answers its result",
    async run({ client }) {
      const o = await client.call("add", ["2", "3"]);
      assertOk(o);
      assertEquals(text(o), "5\n");
      if (o.result !== undefined) assertEquals(o.result, 5);
    },
  },
  {
    name: "unknown command answers 101 with a suggestion",
    async run({ client }) {
      assertError(
        await client.call("pnig"),
        Status.NOT_FOUND,
        'Unknown command "pnig" (did you mean "ping"?)',
      );
      assertError(await client.call("zzzzzz"), Status.NOT_FOUND, 'Unknown command "zzzzzz"');
    },
  },
  {
    name: "bad arguments answer 110 with the usage",
    async run({ client }) {
      assertError(
        await client.call("add", ["1"]),
        Status.BAD_ARGS,
        "Missing argument B (usage: add [--times N] A B)",
      );
      assertError(await client.call("add", ["1", "2", "--times", "many"]), Status.BAD_ARGS, /needs a number/);
      assertError(await client.call("add", ["1", "2", "3"]), Status.BAD_ARGS, /Unexpected argument "3"/);
    },
  },
  {
    name: "a throwing handler answers 105 with its message",
    async run({ client }) {
      assertError(await client.call("boom"), Status.HANDLER_ERROR, "Boom: the handler failed");
    },
  },
  {
    name: "a command's own status comes back as it is",
    async run({ client }) {
      for (const status of [Status.FORBIDDEN, Status.BUSY, Status.TIMEOUT]) {
        assertError(await client.call("fail-with", [String(status)]), status, "Failed as asked");
      }
    },
  },
  {
    name: "a command's deadline answers 104",
    async run({ client }) {
      assertError(await client.call("slow"), Status.TIMEOUT, "Deadline of 50 ms passed");
    },
  },
  {
    name: "a deadline the client asks for answers 104",
    only: (a) => a.callOptions,
    async run({ client }) {
      assertError(
        await client.call("nap", ["2000"], { timeoutMs: 30 }),
        Status.TIMEOUT,
        "Deadline of 30 ms passed",
      );
      const o = await client.call("nap", ["1"], { timeoutMs: 2000 });
      assertOk(o);
      assertEquals(o.result, "rested");
    },
  },
  {
    name: "arguments with spaces, quotes and unicode arrive intact",
    async run({ client }) {
      const words = ["a b", "it's", '"q"', "", "back\\slash", "$HOME", "héllo ✓ 日本", "-x"];
      const o = await client.call("args", ["--", ...words]);
      assertOk(o);
      assertEquals(JSON.parse(text(o)), words);
      if (o.result !== undefined) assertEquals(o.result, words);
    },
  },
  {
    name: "streaming: chunks in order, then ok",
    async run({ client }) {
      const o = await client.call("count", ["50"]);
      assertOk(o);
      const lines = Array.from({ length: 50 }, (_, i) => `${i + 1}\n`);
      assertEquals(text(o), lines.join(""));
      if (o.chunks) assertEquals(o.chunks, lines);
    },
  },
  {
    name: "streaming: output is written as it is produced",
    async run({ client, kit }) {
      const k = key();
      const call = client.start("gate", [k]);
      // The first chunk arrives while the command is still waiting.
      await call.output("started");
      kit.release(k);
      const o = await within(call.done, "the gate to end");
      assertOk(o);
      assertEquals(text(o), "started\nreleased\n");
    },
  },
  {
    name: "structured values and bytes survive",
    async run({ client }) {
      const o = await client.call("mixed");
      assertOk(o);
      assertEquals(
        [...o.transcript],
        [...enc.encode('text\n{"k":"v","n":[1,2]}\n'), 0x00, 0xff, 0x0a, ...enc.encode('{"done":true}\n')],
      );
      if (o.chunks) {
        assertEquals(o.chunks, ["text\n", { k: "v", n: [1, 2] }, new Uint8Array([0x00, 0xff, 0x0a])]);
      }
      if (o.result !== undefined) assertEquals(o.result, { done: true });
    },
  },
  {
    name: "cancel stops the command with 106",
    async run({ adapter, client, kit, connect }) {
      const k = key();
      const call = client.start("ticker", [k]);
      await call.output("tick");
      await call.cancel();
      const why = await within(kit.aborted(k), "the command to see the cancel");
      assertEquals(why, { status: Status.CANCELLED, message: adapter.cancelReason });
      if (adapter.cancelAnswered) {
        const o = await within(call.done, "the cancelled call to end");
        assertError(o, Status.CANCELLED, "Cancelled by the client");
        assert(text(o).startsWith("tick\n"));
        // The connection is still good.
        assertEquals(text(await client.call("add", ["1", "1"])), "2\n");
      } else {
        // Text cancels by disconnecting; the server is still good for others.
        const other = await connect();
        assertEquals(text(await other.call("add", ["1", "1"])), "2\n");
      }
    },
  },
  {
    name: "oversized input answers 108",
    async run({ adapter, client, connect }) {
      assertError(await client.sendOversized(LIMITS.maxFrameBytes), Status.TOO_LARGE, /exceeds the limit/);
      const next = adapter.survivesBadInput ? client : await connect();
      if (!adapter.survivesBadInput) await within(client.closed, "the server to close after a fatal error");
      assertEquals(text(await next.call("add", ["1", "2"])), "3\n");
    },
  },
  {
    name: "garbage input answers 102",
    async run({ adapter, client, connect }) {
      assertError(await client.sendGarbage(), Status.BAD_REQUEST);
      const next = adapter.survivesBadInput ? client : await connect();
      if (!adapter.survivesBadInput) await within(client.closed, "the server to close after a fatal error");
      assertEquals(text(await next.call("add", ["1", "2"])), "3\n");
    },
  },
  {
    name: "errors leave the connection usable",
    async run({ client }) {
      assertEquals((await client.call("nope")).status, Status.NOT_FOUND);
      assertEquals((await client.call("boom")).status, Status.HANDLER_ERROR);
      assertEquals((await client.call("add")).status, Status.BAD_ARGS);
      assertEquals(text(await client.call("echo", ["still", "here"])), "still here\n");
    },
  },
  {
    name: "after the client half-closes, calls in flight are answered, then the server closes",
    async run({ client }) {
      const call = client.start("nap", ["100"]);
      await client.closeWrite();
      const o = await within(call.done, "the answer after half-close");
      assertOk(o);
      assertEquals(text(o), "rested\n");
      await within(client.closed, "the server to close");
    },
  },
  {
    name: "concurrent calls: a quick call is answered while a slow one runs",
    only: (a) => a.concurrent,
    async run({ client, kit }) {
      const k = key();
      const slow = client.start("gate", [k]);
      await slow.output("started");
      const quick = await client.call("add", ["20", "22"]);
      assertEquals(quick.result, 42);
      kit.release(k);
      assertEquals((await within(slow.done, "the gate to end")).result, "released");
    },
  },
  {
    name: "concurrent calls: many in flight, each answer carries its id",
    only: (a) => a.concurrent,
    async run({ client }) {
      const outcomes = await Promise.all(
        Array.from(
          { length: 100 },
          (_, i) => i % 3 === 0 ? client.call("boom") : client.call("add", [String(i), "1"]),
        ),
      );
      outcomes.forEach((o, i) => {
        if (i % 3 === 0) assertEquals(o.status, Status.HANDLER_ERROR);
        else assertEquals(o.result, i + 1);
      });
    },
  },
  {
    name: "calls on one connection run in order",
    only: (a) => !a.concurrent,
    async run({ client, kit }) {
      const k = key();
      const order: string[] = [];
      const slow = client.start("gate", [k]);
      const quick = client.start("add", ["1", "1"]);
      slow.done.then(() => order.push("gate"));
      quick.done.then(() => order.push("add"));
      await slow.output("started");
      await new Promise((r) => setTimeout(r, 50));
      assertEquals(order, [], "the second call waits for the first");
      kit.release(k);
      assertEquals(text(await within(quick.done, "the second call")), "2\n");
      assertEquals(order, ["gate", "add"]);
    },
  },
  {
    name: "input is handed to the command",
    only: (a) => a.callOptions,
    async run({ client }) {
      assertEquals((await client.call("wc", [], { input: "héllo" })).result, 6);
      const bytes = new Uint8Array(5000).map((_, i) => i % 256);
      assertEquals((await client.call("wc", [], { input: bytes })).result, 5000);
      assertEquals((await client.call("wc")).result, 0);
    },
  },
];

for (const adapter of ADAPTERS) {
  Deno.test(`${adapter.name} dialect: conformance`, async (t) => {
    await using tmp = await tempDir();
    const kit = testKit();
    const server = await serve({ path: `${tmp.dir}/conf.sock`, commands: kit.commands, limits: LIMITS });
    try {
      for (const scenario of SCENARIOS) {
        if (scenario.only && !scenario.only(adapter)) continue;
        await t.step(`${adapter.name} dialect: ${scenario.name}`, async () => {
          const opened: DialectClient[] = [];
          const connect = async () => {
            const c = await adapter.connect(server.path);
            opened.push(c);
            return c;
          };
          try {
            await scenario.run({ adapter, server, kit, client: await connect(), connect });
          } finally {
            for (const c of opened) c.close();
            await Promise.all(opened.map((c) => within(c.closed, "the client to close")));
          }
        });
      }
    } finally {
      await server.close({ drainMs: 0 });
    }
  });
}

Deno.test("conformance: every dialect is detected from the first byte on one socket", async () => {
  await using tmp = await tempDir();
  const kit = testKit();
  const server = await serve({ path: `${tmp.dir}/mix.sock`, commands: kit.commands, limits: LIMITS });
  try {
    const clients = await Promise.all(ADAPTERS.map((a) => a.connect(server.path)));
    const outcomes = await Promise.all(clients.map((c) => c.call("echo", ["same", "answer"])));
    for (const o of outcomes) assertEquals(text(o), "same answer\n");
    // The server detected each one's dialect (the stats client itself is one more msgpack connection).
    const stats = await connectClient(server.path);
    const { connections } = await stats.call("stats").result as { connections: { byDialect: object } };
    stats.close();
    const expected: Record<string, number> = Object.fromEntries(DIALECTS.map((d) => [d.name, 1]));
    expected.msgpack!++;
    assertEquals(connections.byDialect, expected);
    for (const c of clients) c.close();
    await Promise.all(clients.map((c) => within(c.closed, "the client to close")));
  } finally {
    await server.close({ drainMs: 0 });
  }
  // Every dialect the server speaks has an adapter here, so the scenarios run against all of them.
  assertEquals(ADAPTERS.map((a) => a.name).sort(), DIALECTS.map((d) => d.name).sort());
});
