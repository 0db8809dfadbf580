import { connect } from "../lib/client.ts";
import { concatBytes } from "../lib/_bytes.ts";
import type { Command } from "../lib/command.ts";
import { decode } from "../lib/codec.ts";
import { FrameDecoder } from "../lib/dialects/_frame_decoder.ts";
import { encodeFrame, MSGPACK_PREFACE } from "../lib/dialects/msgpack.ts";
import { Status } from "../lib/errors.ts";
import type { Limits } from "../lib/limits.ts";
import { serve } from "../lib/server.ts";
import { assert, assertEquals, assertIncludes, assertStatus, caught } from "./assert.ts";
import { tempDir } from "./_helpers.ts";

let produced = 0;
const commands: Command[] = [
  {
    name: "flood",
    summary: "Yield 64 KiB chunks as fast as the client takes them",
    async *run(ctx) {
      const chunk = new Uint8Array(64 * 1024);
      while (!ctx.signal.aborted) {
        produced++;
        yield chunk;
      }
    },
  },
  {
    name: "sleep",
    summary: "Sleep for the given ms",
    args: [{ name: "ms" }],
    run: (ctx) => new Promise((r) => setTimeout(() => r("slept"), Number(ctx.args[0]))),
  },
];

/** Calls of "blob" started (the read-side backpressure test counts them). */
let blobs = 0;
const BLOB = new Uint8Array(64 * 1024);
commands.push({
  name: "blob",
  summary: "Answer 64 KiB at once",
  run: () => {
    blobs++;
    return BLOB;
  },
});

/** Opened by the input test: until then "gated" leaves its input unread. */
let gate = Promise.withResolvers<void>();
commands.push({
  name: "gated",
  summary: "Wait for the test's gate, then count the input's bytes",
  async run(ctx) {
    await gate.promise;
    let n = 0;
    for await (const chunk of ctx.input) n += chunk.length;
    return n;
  },
});

async function withServer(limits: Partial<Limits>, fn: (path: string) => Promise<void>) {
  await using tmp = await tempDir();
  const server = await serve({ path: `${tmp.dir}/s.sock`, commands, limits });
  try {
    await fn(server.path);
  } finally {
    await server.close({ drainMs: 0 });
  }
}

/**
 * Waits until `count` stops growing (unchanged for 200 ms) or `over` is true,
 * whichever comes first; throws after 10 s. Backpressure shows as a count that
 * settles; its absence as one that grows past `over` (the tests' failure).
 */
async function settled(count: () => number, over: () => boolean) {
  let last = -1;
  let still = 0;
  const end = Date.now() + 10_000;
  while (!over() && still < 10) {
    if (Date.now() > end) throw new Error(`Still growing after 10 s (at ${count()})`);
    await new Promise((r) => setTimeout(r, 20));
    still = count() === last ? still + 1 : 0;
    last = count();
  }
}

/** Everything the server sends until it closes, or until `ms` pass. */
async function readAll(conn: Deno.Conn, ms = 3000): Promise<{ bytes: Uint8Array; closed: boolean }> {
  const parts: number[] = [];
  const buf = new Uint8Array(4096);
  const end = Date.now() + ms;
  while (Date.now() < end) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      conn.read(buf).catch(() => null),
      new Promise<"wait">((r) => timer = setTimeout(() => r("wait"), end - Date.now())),
    ]);
    clearTimeout(timer);
    if (n === "wait") break;
    if (n === null) return { bytes: new Uint8Array(parts), closed: true };
    parts.push(...buf.subarray(0, n));
  }
  return { bytes: new Uint8Array(parts), closed: false };
}

function frames(bytes: Uint8Array): Record<string, unknown>[] {
  return new FrameDecoder(1 << 20).push(bytes).map((f) => decode(f) as Record<string, unknown>);
}

Deno.test("limits: a connection that sends nothing is answered 104 and closed", async () => {
  await withServer({ handshakeTimeoutMs: 200 }, async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    const t0 = Date.now();
    const { bytes, closed } = await readAll(conn);
    conn.close();
    assert(closed, "the server closes the connection");
    assertEquals(new TextDecoder().decode(bytes), "error 104: No complete request within 200 ms\n");
    assert(Date.now() - t0 < 2000);
  });
});

Deno.test("limits: a slowloris client that never completes its first frame gets 104 and is closed", async () => {
  await withServer({ handshakeTimeoutMs: 300 }, async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    await conn.write(new Uint8Array([...MSGPACK_PREFACE, 0, 0, 0, 40, 0x84])); // 1 of 40 bytes
    const { bytes, closed } = await readAll(conn);
    conn.close();
    assert(closed);
    const [hello, end] = frames(bytes);
    assertEquals(hello!.type, "hello");
    assertEquals([end!.type, end!.id, end!.status], ["end", null, Status.TIMEOUT]);
  });
});

Deno.test("limits: an idle connection is closed with 104, but not while a call runs", async () => {
  await withServer({ idleTimeoutMs: 300 }, async (path) => {
    const client = await connect(path);
    // A call longer than the idle time keeps the connection alive.
    assertEquals(await client.call("sleep", ["700"]).result, "slept");
    assertEquals(await client.call("ping").result, "pong");
    // Then nothing: the server closes it.
    await client.closed;
    const err = await caught(client.call("ping").result);
    assertStatus(err, Status.TIMEOUT);
    assertIncludes(err.message, "Idle for");
  });
});

Deno.test("limits: connections beyond the maximum are answered 109 and closed; others are served", async () => {
  await withServer({ maxConnections: 2 }, async (path) => {
    const a = await connect(path);
    const b = await connect(path);
    const extra = await Deno.connect({ transport: "unix", path });
    const { bytes, closed } = await readAll(extra);
    extra.close();
    assert(closed);
    assertEquals(new TextDecoder().decode(bytes), "error 109: too many connections (limit 2)\n");
    assertEquals(await a.call("ping").result, "pong");
    b.close();
    a.close();
  });
});

Deno.test("limits: calls in flight beyond the per-connection maximum are answered 109", async () => {
  await withServer({ maxCallsPerConnection: 2 }, async (path) => {
    const client = await connect(path);
    const first = client.call("sleep", ["300"]).result;
    const second = client.call("sleep", ["300"]).result;
    const third = await caught(client.call("sleep", ["1"]).result);
    assertStatus(third, Status.BUSY);
    assertEquals(await Promise.all([first, second]), ["slept", "slept"]);
    assertEquals(await client.call("sleep", ["1"]).result, "slept");
    client.close();
  });
});

Deno.test("limits: a client that stops reading pauses the command instead of filling memory", async () => {
  await withServer({}, async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    await conn.write(
      new Uint8Array([
        ...MSGPACK_PREFACE,
        ...encodeFrame({ type: "call", id: 1, command: "flood", args: [] }),
      ]),
    );
    produced = 0;
    await settled(() => produced, () => produced * 64 >= 16 * 1024);
    const stalled = produced;
    // Socket buffers hold a few chunks; the generator is not pulled beyond them.
    assert(stalled * 64 < 16 * 1024, `${stalled} chunks of 64 KiB were produced ahead of the reader`);
    // Reading resumes production.
    await readAll(conn, 200);
    assert(produced > stalled);
    conn.close();
  });
});

Deno.test("limits: a client that sends calls but does not read the answers is read no further until it does", async () => {
  await withServer({}, async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    // Aborts the test's reads if the answers stop coming.
    const deadline = setTimeout(() => conn.close(), 10_000);
    try {
      const calls = 400;
      const parts = [MSGPACK_PREFACE];
      for (let id = 1; id <= calls; id++) {
        parts.push(encodeFrame({ type: "call", id, command: "blob", args: [] }));
      }
      let bytes = concatBytes(parts);
      // ~14 KiB of requests: the socket takes them all, the server reads them over several reads.
      while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
      blobs = 0;
      await settled(() => blobs, () => blobs >= calls);
      const stalled = blobs;
      // Each read's answers are 64 KiB a call: once 256 KiB wait for the socket, the session reads no more.
      assert(stalled < calls / 4, `${stalled} of ${calls} calls ran while nobody read their 64 KiB answers`);
      // Reading the answers lets the rest be read and answered.
      const decoder = new FrameDecoder(1 << 20);
      const ended = new Set<unknown>();
      const buf = new Uint8Array(64 * 1024);
      while (ended.size < calls) {
        const n = await conn.read(buf);
        assert(n !== null, `the server closed the connection after ${ended.size} answers`);
        for (const frame of decoder.push(buf.subarray(0, n))) {
          const msg = decode(frame) as Record<string, unknown>;
          if (msg.type === "end") ended.add(msg.id);
        }
      }
      assertEquals(blobs, calls);
    } finally {
      clearTimeout(deadline);
      try {
        conn.close();
      } catch { /* closed by the deadline */ }
    }
  });
});

Deno.test("limits: a client's deadline is capped by maxCallTimeoutMs", async () => {
  await withServer({ maxCallTimeoutMs: 50 }, async (path) => {
    const client = await connect(path);
    try {
      // Asked for 10 minutes; the server's cap of 50 ms ends it long before the command would.
      const err = await caught(client.call("sleep", ["2000"], { timeoutMs: 600_000 }).result);
      assertStatus(err, Status.TIMEOUT);
      assertEquals(err.message, "Deadline of 50 ms passed");
    } finally {
      client.close();
    }
  });
});

Deno.test("limits: input a command has not read yet pauses reading the connection (inputBufferBytes)", async () => {
  gate = Promise.withResolvers<void>();
  await withServer({ inputBufferBytes: 16 * 1024 }, async (path) => {
    const client = await connect(path);
    try {
      const total = 8 * 1024 * 1024;
      let pulled = 0;
      const input = (async function* () {
        while (pulled < total) {
          pulled += 16 * 1024;
          yield new Uint8Array(16 * 1024);
        }
      })();
      const result = client.call("gated", [], { input }).result;
      // The client pulls input as fast as the socket takes it.
      await settled(() => pulled, () => pulled >= total);
      // Socket buffers and one read hold some; not megabytes the command never asked for.
      assert(pulled < total / 4, `${pulled} of ${total} input bytes taken while the command read none`);
      gate.resolve();
      assertEquals(await result, total);
    } finally {
      gate.resolve();
      client.close();
    }
  });
});
