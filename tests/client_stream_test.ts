/**
 * Streaming to the client through `for await`: the chunks it hands out are
 * views of its read buffers where they can be (lib/_client_reader.ts), so
 * these hold it to its contract: a chunk keeps its bytes whatever arrives
 * after it, and a consumer that stops reading stops the stream instead of
 * filling the client's memory.
 */
import { connect } from "../lib/client.ts";
import { PENDING_CHUNKS } from "../lib/client_call.ts";
import type { Command } from "../lib/command.ts";
import { Status } from "../lib/errors.ts";
import { serve } from "../lib/server.ts";
import { assert, assertEquals, assertMatch, assertStatus, caught } from "./assert.ts";
import { tempDir } from "./_helpers.ts";

/** Byte `i` of every pattern stream: no two neighbours alike, so a misplaced or overwritten byte shows. */
const patternByte = (i: number) => (i * 7 + (i >>> 8)) & 0xff;

/** Chunk sizes of the `sizes` stream: large ones (handed out as views), small ones (copied), frames straddling reads. */
const SIZES = [65_536, 100_000, 20_000, 5, 16_384, 70_000, 300, 65_536, 65_536, 200_000, 17_000, 65_536];

/** Chunks the `flood` command has produced. */
let produced = 0;
const FLOOD_CHUNKS = 2000;
const FLOOD_BYTES = 16 * 1024;

const commands: Command[] = [
  {
    name: "sizes",
    summary: "Stream pattern bytes in chunks of SIZES, ROUNDS times",
    async *run(ctx) {
      const rounds = Number(ctx.args[0]);
      for (let r = 0, i = 0; r < rounds; r++) {
        for (const size of SIZES) {
          const chunk = new Uint8Array(size);
          for (let j = 0; j < size; j++, i++) chunk[j] = patternByte(i);
          yield chunk;
        }
      }
    },
  },
  {
    name: "big",
    summary: "Two pattern chunks of 3 MiB with 5 bytes between",
    async *run() {
      let i = 0;
      for (const size of [3 << 20, 5, 3 << 20]) {
        const chunk = new Uint8Array(size);
        for (let j = 0; j < size; j++, i++) chunk[j] = patternByte(i);
        yield chunk;
      }
    },
  },
  {
    name: "flood",
    summary: "Stream FLOOD_CHUNKS chunks as fast as they are taken",
    async *run() {
      const chunk = new Uint8Array(FLOOD_BYTES).fill(0x66);
      for (produced = 0; produced < FLOOD_CHUNKS;) {
        produced++;
        yield chunk;
      }
    },
  },
];

async function withClient(
  fn: (c: Awaited<ReturnType<typeof connect>>) => Promise<void>,
  maxFrameBytes?: number,
) {
  await using tmp = await tempDir();
  const server = await serve({ path: `${tmp.dir}/s.sock`, commands });
  const c = await connect(server.path, { maxFrameBytes });
  try {
    await fn(c);
  } finally {
    c.close();
    await server.close({ drainMs: 0 });
  }
}

/** Polls `count` every 10 ms until it stops changing (5 polls alike) or passes `limit`; 10 s at most. */
async function settles(count: () => number, limit: number): Promise<number> {
  const end = Date.now() + 10_000;
  for (let last = -1, still = 0; still < 5 && count() <= limit; still = count() === last ? still + 1 : 0) {
    if (Date.now() > end) throw new Error(`Still changing after 10 s (at ${count()})`);
    last = count();
    await new Promise((r) => setTimeout(r, 10));
  }
  return count();
}

Deno.test("client stream: chunks received through for await keep their bytes after later chunks arrive", async () => {
  await withClient(async (c) => {
    const rounds = 8;
    const kept: Uint8Array[] = [];
    for await (const chunk of c.call("sizes", [String(rounds)])) kept.push(chunk as Uint8Array);
    assertEquals(kept.map((k) => k.length), Array.from({ length: rounds }, () => SIZES).flat());
    // A kept chunk pins little more than itself: a view of at most 8 times its size, or a copy.
    for (const k of kept) {
      assert(k.buffer.byteLength <= 8 * k.length, `a ${k.length} B chunk holds ${k.buffer.byteLength} B`);
    }
    // Only now, with every later chunk read, check each kept chunk's bytes.
    let i = 0;
    for (const [n, chunk] of kept.entries()) {
      for (const b of chunk) {
        if (b !== patternByte(i++)) throw new Error(`byte ${i - 1} (chunk ${n}) was overwritten`);
      }
    }
    assertEquals(await c.call("ping").result, "pong");
  });
});

Deno.test("client stream: chunks larger than the read buffer arrive whole, iterated and read into a buffer", async () => {
  await withClient(async (c) => {
    const kept: Uint8Array[] = [];
    for await (const chunk of c.call("big")) kept.push(chunk as Uint8Array);
    assertEquals(kept.map((k) => k.length), [3 << 20, 5, 3 << 20]);
    let i = 0;
    for (const chunk of kept) {
      for (const b of chunk) if (b !== patternByte(i++)) throw new Error(`byte ${i - 1}`);
    }
    const call = c.call("big");
    const buf = new Uint8Array(256 * 1024);
    let total = 0;
    for (let n; (n = await call.readInto(buf)) !== null; total += n) {
      for (let j = 0; j < n; j++) {
        if (buf[j] !== patternByte(total + j)) throw new Error(`read byte ${total + j}`);
      }
    }
    assertEquals(total, 2 * (3 << 20) + 5);
  });
});

Deno.test("client stream: a chunk the caller writes into is its own (later chunks are not touched)", async () => {
  await withClient(async (c) => {
    const kept: Uint8Array[] = [];
    for await (const chunk of c.call("sizes", ["2"])) {
      const bytes = chunk as Uint8Array;
      kept.push(bytes.slice());
      bytes.fill(0); // the caller owns the chunk: scribbling on it must not reach the next ones
    }
    let i = 0;
    for (const chunk of kept) {
      for (const b of chunk) if (b !== patternByte(i++)) throw new Error(`byte ${i - 1} changed`);
    }
  });
});

Deno.test("client stream: a consumer that does not read stops the stream; reading resumes it", async () => {
  await withClient(async (c) => {
    const call = c.call("flood");
    // Unread chunks pile up to PENDING_CHUNKS, then the client stops reading and the server stops pulling
    // the command (a few more chunks fit in the socket and the server's batch).
    const stalled = await settles(() => produced, FLOOD_CHUNKS - 1);
    assert(stalled >= PENDING_CHUNKS, `only ${stalled} chunks produced`);
    assert(stalled < PENDING_CHUNKS + 128, `${stalled} chunks produced for a consumer that reads none`);
    let got = 0;
    for await (const chunk of call) {
      const bytes = chunk as Uint8Array;
      assertEquals([bytes.length, bytes[0], bytes[bytes.length - 1]], [FLOOD_BYTES, 0x66, 0x66]);
      got++;
    }
    assertEquals([got, produced], [FLOOD_CHUNKS, FLOOD_CHUNKS]);
  });
});

Deno.test("client stream: a frame from the server over maxFrameBytes ends the connection with TOO_LARGE", async () => {
  await withClient(async (c) => {
    const err = await caught(c.call("sizes", ["1"]).result);
    assertStatus(err, Status.TOO_LARGE);
    assertMatch(err.message, /^Bad data from server: Frame of 655\d\d bytes exceeds the limit of 4096$/);
    await c.closed;
  }, 4096);
});
