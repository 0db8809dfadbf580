import { connect } from "../lib/client.ts";
import type { Command } from "../lib/command.ts";
import { Status } from "../lib/errors.ts";
import { serve } from "../lib/server.ts";
import { assert, assertEquals, assertIncludes, assertStatus, caught } from "./assert.ts";
import { tempDir } from "./_helpers.ts";

/** Byte `i` of every pattern stream: no two neighbours alike, so a misplaced or lost byte shows. */
const patternByte = (i: number) => (i * 7 + (i >>> 8)) & 0xff;

const commands: Command[] = [
  {
    name: "pattern",
    summary: "Stream N chunks of S pattern bytes",
    async *run(ctx) {
      const [chunks, size] = ctx.args.map(Number) as [number, number];
      for (let c = 0, i = 0; c < chunks; c++) {
        const chunk = new Uint8Array(size);
        for (let j = 0; j < size; j++, i++) chunk[j] = patternByte(i);
        yield chunk;
      }
      return "done";
    },
  },
  {
    name: "mixed",
    summary: "Text, bytes, then a failure",
    async *run() {
      yield "héllo ";
      yield new Uint8Array([1, 2, 3]);
      throw new Error("Broke after the bytes");
    },
  },
  {
    name: "structured",
    summary: "A structured chunk after bytes",
    async *run() {
      yield new Uint8Array([7]);
      yield { n: 1 };
    },
  },
];

async function withClient(fn: (c: Awaited<ReturnType<typeof connect>>) => Promise<void>) {
  await using tmp = await tempDir();
  const server = await serve({ path: `${tmp.dir}/s.sock`, commands });
  const c = await connect(server.path);
  try {
    await fn(c);
  } finally {
    c.close();
    await server.close({ drainMs: 0 });
  }
}

/** Reads `call` to its end with readInto(buf), checking every byte against the pattern; returns the count. */
async function readPattern(
  call: { readInto(b: Uint8Array): Promise<number | null> },
  buf: Uint8Array,
  pause?: () => Promise<unknown>,
): Promise<number> {
  let total = 0;
  for (let n; (n = await call.readInto(buf)) !== null;) {
    assert(n > 0 && n <= buf.length, `read ${n} into ${buf.length}`);
    for (let j = 0; j < n; j++) {
      if (buf[j] !== patternByte(total + j)) throw new Error(`byte ${total + j} is ${buf[j]}`);
    }
    total += n;
    if (pause) await pause();
  }
  return total;
}

Deno.test("client readInto: a stream arrives whole and in order, into buffers larger than, as large as and smaller than its chunks", async () => {
  await withClient(async (c) => {
    for (
      const [size, chunks, chunk] of [[1 << 20, 12, 100_000], [100_000, 12, 100_000], [65_543, 12, 100_000], [
        4096,
        4,
        100_000,
      ], [1, 2, 20_000]] as const
    ) {
      const call = c.call("pattern", [String(chunks), String(chunk)]);
      assertEquals(await readPattern(call, new Uint8Array(size)), chunks * chunk, `buffer of ${size}`);
      assertEquals(await call.result, "done");
      assertEquals(await call.readInto(new Uint8Array(8)), null, "after the end");
    }
  });
});

Deno.test("client readInto: a reader that is not waiting when chunks arrive still gets every byte", async () => {
  await withClient(async (c) => {
    const call = c.call("pattern", ["20", "70000"]);
    const pause = () => new Promise((r) => setTimeout(r, 1));
    assertEquals(await readPattern(call, new Uint8Array(64 * 1024), pause), 20 * 70_000);
  });
});

Deno.test("client readInto: calls streaming at once on one connection, one read into a buffer and one iterated, stay intact", async () => {
  await withClient(async (c) => {
    const lent = c.call("pattern", ["16", "100000"]);
    const iterated = c.call("pattern", ["16", "90000"]);
    const iterate = (async () => {
      let i = 0;
      for await (const chunk of iterated) {
        for (const b of chunk as Uint8Array) {
          if (b !== patternByte(i++)) throw new Error(`iterated byte ${i - 1}`);
        }
      }
      return i;
    })();
    const [read, iteratedBytes] = await Promise.all([readPattern(lent, new Uint8Array(128 * 1024)), iterate]);
    assertEquals([read, iteratedBytes], [1_600_000, 1_440_000]);
    assertEquals(await c.call("ping").result, "pong");
  });
});

Deno.test("client readInto: text is read as UTF-8, and the call's error comes after its bytes", async () => {
  await withClient(async (c) => {
    const call = c.call("mixed");
    const buf = new Uint8Array(4);
    const got: number[] = [];
    const err = await (async () => {
      for (let n; (n = await call.readInto(buf)) !== null;) got.push(...buf.subarray(0, n));
    })().catch((e) => e);
    assertEquals(got, [...new TextEncoder().encode("héllo "), 1, 2, 3]);
    assertStatus(err, Status.HANDLER_ERROR);
    assertEquals(err.message, "Broke after the bytes");
  });
});

Deno.test("client readInto: a structured chunk is a TypeError (iterate such calls), and it stays to be iterated", async () => {
  await withClient(async (c) => {
    const call = c.call("structured");
    await call.result;
    const buf = new Uint8Array(16);
    assertEquals(await call.readInto(buf), 1);
    const err = await caught(call.readInto(buf));
    assert(err instanceof TypeError, String(err));
    assertIncludes(err.message, "structured value");
    const rest = [];
    for await (const chunk of call) rest.push(chunk);
    assertEquals(rest, [{ n: 1 }]);
  });
});

Deno.test("client readInto: an empty buffer or a second waiting read is a programmer error", async () => {
  await withClient(async (c) => {
    const call = c.call("pattern", ["1", "10"]);
    const empty = await caught(call.readInto(new Uint8Array(0)));
    assert(empty instanceof RangeError, String(empty));
    assertIncludes(empty.message, "at least one byte");
    const slow = c.call("mixed");
    const first = slow.readInto(new Uint8Array(64));
    const second = await caught(slow.readInto(new Uint8Array(64)));
    assert(second instanceof TypeError, String(second));
    assertIncludes(second.message, "already waiting");
    assert((await first)! > 0);
    await caught(slow.result);
    assertEquals(await readPattern(call, new Uint8Array(4)), 10);
  });
});
