/**
 * The session's write path and per-connection deadlines, through real
 * sockets: answers batched into one write keep each call's order, a chunk
 * is copied before its command runs on, and deadlines of many calls share
 * one timer.
 */
import { connect } from "../lib/client.ts";
import type { Command } from "../lib/command.ts";
import { Status } from "../lib/errors.ts";
import { encodeFrame, MSGPACK_PREFACE } from "../lib/dialects/msgpack.ts";
import { serve } from "../lib/server.ts";
import { assert, assertEquals, assertStatus, caught } from "./assert.ts";
import { tempDir } from "./_helpers.ts";

const commands: Command[] = [
  {
    name: "count",
    summary: "Yield 0..N-1, one chunk each",
    args: [{ name: "n" }],
    async *run(ctx) {
      for (let i = 0; i < Number(ctx.args[0]); i++) {
        yield i;
        if (i % 3 === 0) await new Promise((r) => setTimeout(r, 0));
      }
      return "counted";
    },
  },
  {
    name: "later",
    summary: "Answer its argument after a few ms",
    args: [{ name: "x" }],
    run: (ctx) => new Promise((r) => setTimeout(() => r(ctx.args[0]), Number(ctx.args[0]) % 7)),
  },
  {
    name: "reuse",
    summary: "Yield one buffer again and again, changing it after each yield",
    args: [{ name: "size" }, { name: "n" }],
    async *run(ctx) {
      const buf = new Uint8Array(Number(ctx.args[0]));
      for (let i = 0; i < Number(ctx.args[1]); i++) {
        buf.fill(i);
        yield buf;
      }
    },
  },
  {
    name: "lines",
    summary: "Yield 'A\\n', 'B\\n', ... from one 2-byte buffer",
    args: [{ name: "n" }],
    async *run(ctx) {
      const buf = new Uint8Array(2);
      for (let i = 0; i < Number(ctx.args[0]); i++) {
        buf[0] = 0x41 + i;
        buf[1] = 0x0a;
        yield buf;
      }
    },
  },
  {
    name: "blocks",
    summary: "Yield N fresh 64 KiB blocks, block i filled with i",
    args: [{ name: "n" }],
    async *run(ctx) {
      for (let i = 0; i < Number(ctx.args[0]); i++) yield new Uint8Array(64 * 1024).fill(i);
    },
  },
  {
    name: "flood",
    summary: "Yield 64 KiB chunks until stopped",
    async *run(ctx) {
      const chunk = new Uint8Array(64 * 1024);
      while (!ctx.signal.aborted) yield chunk;
    },
  },
  {
    name: "hang",
    summary: "Wait until aborted",
    run: (ctx) =>
      new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))),
  },
];

async function withServer(fn: (path: string) => Promise<void>) {
  await using tmp = await tempDir();
  const server = await serve({ path: `${tmp.dir}/s.sock`, commands });
  try {
    await fn(server.path);
  } finally {
    await server.close({ drainMs: 0 });
  }
}

Deno.test("session: 300 calls in flight on one connection, answered together, keep each call's order", async () => {
  await withServer(async (path) => {
    const client = await connect(path);
    try {
      const jobs = Array.from({ length: 300 }, async (_, i) => {
        switch (i % 4) {
          case 0:
            return assertEquals(await client.call("ping").result, "pong");
          case 1:
            return assertEquals(await client.call("echo", [`n${i}`]).result, `n${i}`);
          case 2:
            return assertEquals(await client.call("later", [String(i)]).result, String(i));
          default: {
            const call = client.call("count", [String(i % 17)]);
            const got: unknown[] = [];
            for await (const chunk of call) got.push(chunk);
            assertEquals(got, Array.from({ length: i % 17 }, (_, k) => k));
            assertEquals(await call.result, "counted");
          }
        }
      });
      // More than the 128 calls a connection may run at once: some are refused with 109, in order:
      // only once 128 calls that stay in flight (later, count) were accepted before it, since ping and
      // echo end at once. Each refusal names the limit.
      const outcomes = await Promise.allSettled(jobs);
      let running = 0;
      let refused = 0;
      outcomes.forEach((o, i) => {
        if (o.status === "fulfilled") {
          if (i % 4 >= 2) running++;
          return;
        }
        refused++;
        assertStatus(o.reason, Status.BUSY);
        assertEquals(o.reason.message, "Too many calls in flight on this connection (limit 128)");
        assert(running >= 128, `call ${i} was refused when at most ${running} calls ran`);
      });
      assert(refused > 0, "300 calls sent at once, none refused");
    } finally {
      client.close();
    }
  });
});

Deno.test("session: a chunk is sent as it was when yielded, even if the command reuses its buffer", async () => {
  await withServer(async (path) => {
    const client = await connect(path);
    try {
      for (const size of [5, 70_000]) {
        const chunks: Uint8Array[] = [];
        for await (const chunk of client.call("reuse", [String(size), "20"])) {
          chunks.push(chunk as Uint8Array);
        }
        assertEquals(chunks.length, 20);
        chunks.forEach((c, i) =>
          assert(c.length === size && c.every((b) => b === i), `chunk ${i} of ${size} B`)
        );
      }
    } finally {
      client.close();
    }
    // The text dialect writes bytes chunks as they are.
    const conn = await Deno.connect({ transport: "unix", path });
    try {
      await conn.write(new TextEncoder().encode("oneshot lines 10\n"));
      const parts: number[] = [];
      const buf = new Uint8Array(256);
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        parts.push(...buf.subarray(0, n));
      }
      assertEquals(new TextDecoder().decode(new Uint8Array(parts)), "A\nB\nC\nD\nE\nF\nG\nH\nI\nJ\n");
    } finally {
      conn.close();
    }
  });
});

Deno.test("session: streamed 64 KiB chunks stay intact in the client after later reads", async () => {
  await withServer(async (path) => {
    const client = await connect(path);
    try {
      const chunks: Uint8Array[] = [];
      for await (const chunk of client.call("blocks", ["48"])) chunks.push(chunk as Uint8Array);
      assertEquals(chunks.length, 48);
      chunks.forEach((c, i) => assert(c.length === 64 * 1024 && c.every((b) => b === i), `block ${i}`));
    } finally {
      client.close();
    }
  });
});

Deno.test("session: deadlines of 60 calls in flight on one connection each answer 104", async () => {
  await withServer(async (path) => {
    const client = await connect(path);
    try {
      const calls = Array.from(
        { length: 60 },
        (_, i) => caught(client.call("hang", [], { timeoutMs: 20 + i }).result),
      );
      assertEquals(await client.call("ping").result, "pong");
      const errors = await Promise.all(calls);
      errors.forEach((err, i) => {
        assertStatus(err, Status.TIMEOUT);
        assertEquals(err.message, `Deadline of ${20 + i} ms passed`);
      });
      assertEquals(await client.call("ping").result, "pong");
    } finally {
      client.close();
    }
  });
});

Deno.test("session: shutdown does not wait forever for a client that stopped reading", async () => {
  await using tmp = await tempDir();
  const server = await serve({ path: `${tmp.dir}/s.sock`, commands });
  const conn = await Deno.connect({ transport: "unix", path: server.path });
  try {
    await conn.write(
      new Uint8Array([
        ...MSGPACK_PREFACE,
        ...encodeFrame({ type: "call", id: 1, command: "flood", args: [] }),
      ]),
    );
    // Let the socket buffers fill up: the call now waits for the client, which never reads.
    await new Promise((r) => setTimeout(r, 200));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = await Promise.race([
      server.close({ drainMs: 50 }).then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), 10_000)),
    ]);
    clearTimeout(timer);
    assert(closed, "the server closed within 10 s");
  } finally {
    conn.close();
  }
});
