import { connect } from "../lib/client.ts";
import type { Command } from "../lib/command.ts";
import { Status } from "../lib/errors.ts";
import { serve } from "../lib/server.ts";
import { assert, assertEquals, assertIncludes, assertStatus, caught } from "./assert.ts";
import { tempDir } from "./_helpers.ts";

const cancelled: string[] = [];
const commands: Command[] = [
  {
    name: "forever",
    summary: "Stream until cancelled",
    async *run(ctx) {
      ctx.signal.addEventListener(
        "abort",
        () => cancelled.push(String((ctx.signal.reason as Error).message)),
      );
      for (let i = 0; !ctx.signal.aborted; i++) {
        yield i;
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  },
  { name: "fail", summary: "Throw", run: () => Promise.reject(new Error("Disk is full")) },
  {
    name: "upper",
    summary: "Uppercase the input",
    async run(ctx) {
      return (await new Response(ctx.input).text()).toUpperCase();
    },
  },
  {
    name: "bytes",
    summary: "Bytes chunks",
    async *run() {
      yield new Uint8Array([0, 1, 2, 255]);
      yield { structured: [1, 2] };
      return new Uint8Array([9]);
    },
  },
];

async function withServer(fn: (path: string) => Promise<void>) {
  await using tmp = await tempDir();
  const server = await serve({ path: `${tmp.dir}/s.sock`, commands });
  try {
    await fn(server.path);
  } finally {
    // No drain: a call a test left running (say, one that a broken cancel did not stop) ends now.
    await server.close({ drainMs: 0 });
  }
}

Deno.test("client: no server at the path is a CONN_ERROR that says what to do", async () => {
  await using tmp = await tempDir();
  const err = await connect(`${tmp.dir}/nobody.sock`).catch((e) => e);
  assertStatus(err, Status.CONN_ERROR);
  assertIncludes(err.message, "is sockd serve running?");
  assertEquals(err.remote, false);
});

Deno.test("client: a handler error is remote, with the command's message", async () => {
  await withServer(async (path) => {
    const c = await connect(path);
    const err = await caught(c.call("fail").result);
    assertStatus(err, Status.HANDLER_ERROR);
    assertEquals([err.message, err.remote], ["Disk is full", true]);
    c.close();
  });
});

Deno.test("client: aborting the signal cancels the call on the server (106)", async () => {
  await withServer(async (path) => {
    const c = await connect(path);
    const ctrl = new AbortController();
    // A deadline far beyond the cancel's round trip, so that a cancel the server ignores fails fast.
    const call = c.call("forever", [], { signal: ctrl.signal, timeoutMs: 3000 });
    const seen: unknown[] = [];
    const err = await (async () => {
      for await (const chunk of call) {
        seen.push(chunk);
        if (seen.length === 3) ctrl.abort();
      }
    })().catch((e) => e);
    assertStatus(err, Status.CANCELLED);
    assert(seen.length >= 3);
    assertIncludes(cancelled.join(";"), "Cancelled by the client");
    // The connection is still usable.
    assertEquals(await c.call("ping").result, "pong");
    c.close();
  });
});

Deno.test("client: input is streamed to the command", async () => {
  await withServer(async (path) => {
    const c = await connect(path);
    const big = "abc".repeat(100_000); // several input frames
    assertEquals(await c.call("upper", [], { input: big }).result, big.toUpperCase());
    const stream = ReadableStream.from([new TextEncoder().encode("x"), new TextEncoder().encode("y")]);
    assertEquals(await c.call("upper", [], { input: stream }).result, "XY");
    c.close();
  });
});

Deno.test("client: bytes stay bytes, structured chunks stay structured", async () => {
  await withServer(async (path) => {
    const c = await connect(path);
    const call = c.call("bytes");
    const chunks = [];
    for await (const chunk of call) chunks.push(chunk);
    assertEquals([...(chunks[0] as Uint8Array)], [0, 1, 2, 255]);
    assertEquals(chunks[1], { structured: [1, 2] });
    assertEquals([...(await call.result as Uint8Array)], [9]);
    c.close();
  });
});

Deno.test("client: a server that goes away ends calls with a local CONN_ERROR, not a hang", async () => {
  await using tmp = await tempDir();
  const server = await serve({ path: `${tmp.dir}/s.sock`, commands });
  const c = await connect(server.path);
  const call = c.call("forever");
  const closing = server.close({ drainMs: 0 });
  const err = await caught(call.result);
  await closing;
  assert(err.status === Status.CANCELLED || err.status === Status.CONN_ERROR, `got ${err.status}`);
  const after = await caught(c.call("ping").result);
  assertStatus(after, Status.CONN_ERROR);
  assertEquals(after.remote, false);
  await c.closed;
});

Deno.test("client: ping measures a round trip", async () => {
  await withServer(async (path) => {
    const c = await connect(path);
    const ms = await c.ping();
    assert(ms >= 0 && ms < 5000);
    c.close();
  });
});

Deno.test("client: a call made just before close (still in the unwritten batch) ends with CONN_ERROR", async () => {
  await withServer(async (path) => {
    const c = await connect(path);
    const call = c.call("ping"); // queued: the batch goes out a microtask later, after the close
    c.close();
    const err = await caught(call.result);
    assertStatus(err, Status.CONN_ERROR);
    assertIncludes(err.message, "Client closed the connection");
    await c.closed;
  });
});

Deno.test("client: arguments that are not strings reach the server as they are, and it answers 102", async () => {
  await withServer(async (path) => {
    const c = await connect(path);
    const err = await caught(c.call("echo", [1 as unknown as string]).result);
    assertStatus(err, Status.BAD_REQUEST);
    assertIncludes(err.message, "call args must be an array of strings");
    assertEquals(await c.call("echo", ["still", "fine"]).result, "still fine");
    c.close();
  });
});
