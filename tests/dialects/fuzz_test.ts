/**
 * Feeds every dialect random and mutated input over real sockets of an
 * in-process server, many inputs per connection, and checks that the server
 * never crashes, keeps answering well-behaved clients meanwhile, always
 * answers in its dialect's framing, and does not grow memory without bound.
 *
 * SOCKD_FUZZ_ITERATIONS sets the number of inputs across the three dialects
 * (default 10,000; `deno task fuzz` runs 100,000). SOCKD_FUZZ_SEED sets the
 * seed; a failure message names it so the run can be repeated.
 */
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { decodeFrameBody, encodeFrame, MSGPACK_PREFACE } from "../../lib/dialects/msgpack.ts";
import { frame, FrameDecoder } from "../../lib/dialects/_frame_decoder.ts";
import { textDialect } from "../../lib/dialects/text.ts";
import { jsonlDialect } from "../../lib/dialects/jsonl.ts";
import { decodeStream, type Dialect, type Request } from "../../lib/dialects/dialect.ts";
import { tokenize } from "../../lib/dialects/_tokenize.ts";
import { resolveLimits } from "../../lib/limits.ts";
import { serve, type Server } from "../../lib/server.ts";
import { assert, assertEquals } from "../assert.ts";
import { tempDir, waitFor } from "../_helpers.ts";
import { prng } from "../_prng.ts";
import { ADAPTERS, type DialectClient, within } from "./_clients.ts";
import { Status, testKit } from "./_kit.ts";

const TOTAL = Number(Deno.env.get("SOCKD_FUZZ_ITERATIONS") ?? 10_000);
const SEED = Number(Deno.env.get("SOCKD_FUZZ_SEED") ?? 0x5eed);
const LIMITS = { maxLineBytes: 512, maxFrameBytes: 2048, defaultCallTimeoutMs: 2_000 };
/** Inputs sent on one connection before it is half-closed. */
const PER_CONNECTION = 100;
/** Connections fuzzed at once. */
const PARALLEL = 8;

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * V8's full garbage collection, so that memory is measured exactly rather than
 * with whatever garbage V8 has not collected yet. Obtained the way Node
 * programs do it, with no extra permission.
 */
const gc: () => void = (() => {
  v8.setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
})();

/** Heap plus external (ArrayBuffer) memory in use once garbage is collected, in MiB. */
async function liveMiB(): Promise<number> {
  gc();
  // Array buffers are freed by a background sweeper: give it a moment, then look.
  await new Promise((r) => setTimeout(r, 20));
  gc();
  const m = Deno.memoryUsage();
  return (m.heapUsed + m.external) / 2 ** 20;
}

type Rng = ReturnType<typeof prng>;

/** Bytes that tend to break parsers. */
const NASTY = [
  ..."\"'\\ \t\r\n{}[]:,#$`0-9aZ".split("").map((c) => enc.encode(c)),
  new Uint8Array([0xff]),
  new Uint8Array([0xc0, 0x80]),
  new Uint8Array([0xe2, 0x9c]), // a cut multibyte character
  enc.encode("✓"),
  new Uint8Array([0x00]),
  enc.encode("\\u0000"),
  enc.encode('{"$base64":"'),
];

/** A random edit of `input`. */
function mutate(rng: Rng, input: Uint8Array, limit: number): Uint8Array {
  const b = Array.from(input);
  const edits = 1 + rng.int(4);
  for (let e = 0; e < edits; e++) {
    const at = rng.int(b.length + 1);
    switch (rng.int(7)) {
      case 0:
        if (b.length) b[rng.int(b.length)] = rng.int(256);
        break;
      case 1:
        b.splice(at, 0, ...rng.pick(NASTY));
        break;
      case 2:
        b.splice(at, 1 + rng.int(8));
        break;
      case 3:
        b.splice(at, 0, ...b.slice(at, at + 1 + rng.int(16)));
        break;
      case 4:
        b.length = Math.min(b.length, at);
        break;
      case 5:
        b.splice(at, 0, ...rng.bytes(1 + rng.int(16)));
        break;
      case 6:
        // Over the limit now and then.
        if (rng.int(4) === 0) b.splice(at, 0, ...new Uint8Array(limit + rng.int(64)).fill(0x78));
        break;
    }
  }
  return Uint8Array.from(b);
}

// ---------------------------------------------------------------- generators

const TEXT_CORPUS = [
  "ping",
  "echo hello world",
  `echo "a b" 'c d' e\\ f`,
  "help",
  "help echo",
  "version",
  "add 1 2",
  "add 1 2 --times 3",
  "add",
  'args -- a \'b c\' "d\\"e"',
  "boom",
  "mixed",
  "nope",
  "prompt",
  "",
  "# a comment",
  'echo "unterminated',
];

/** Whether a text line would end the connection (quit, oneshot): kept out so every batch reaches its sentinel. */
function endsTextConnection(line: Uint8Array): boolean {
  try {
    const first = tokenize(new TextDecoder("utf-8", { fatal: true }).decode(line))[0];
    return first === "quit" || first === "oneshot";
  } catch {
    return false;
  }
}

function textInput(rng: Rng): Uint8Array {
  while (true) {
    const roll = rng.int(10);
    const base = enc.encode(rng.pick(TEXT_CORPUS));
    const line = roll === 0
      ? rng.bytes(rng.int(80))
      : roll < 3
      ? base
      : mutate(rng, base, LIMITS.maxLineBytes);
    const withEnd = new Uint8Array([...line, ...enc.encode(rng.int(5) === 0 ? "\r\n" : "\n")]);
    if (!splitLines(withEnd).some(endsTextConnection)) return withEnd;
  }
}

function splitLines(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      let end = i;
      if (end > start && bytes[end - 1] === 0x0d) end--;
      out.push(bytes.subarray(start, end));
      start = i + 1;
    }
  }
  return out;
}

const JSONL_CORPUS = [
  '{"id":1,"command":"ping"}',
  '{"id":"s","command":"echo","args":["a b","✓"]}',
  '{"id":2,"command":"add","args":["1","2"],"timeout":500}',
  '{"id":3,"command":"mixed"}',
  '{"id":4,"command":"boom"}',
  '{"id":5,"cancel":true}',
  '{"id":6,"command":"help","args":["--json"]}',
  '{"id":7,"command":"echo","input":"inline"}',
  '{"id":8,"command":"echo","input":true}',
  '{"id":8,"data":{"$base64":"AAH/"}}',
  '{"id":8,"end":true}',
  '{"id":9,"ping":true}',
  '{"command":"ping"}',
  "[1,2,3]",
  '{"id":{"nested":[1,2]},"command":["x"]}',
  "",
];

function jsonlInput(rng: Rng): Uint8Array {
  const roll = rng.int(10);
  const base = enc.encode(rng.pick(JSONL_CORPUS));
  const line = roll === 0 ? rng.bytes(rng.int(80)) : roll < 3 ? base : mutate(rng, base, LIMITS.maxLineBytes);
  return new Uint8Array([...line, 0x0a]);
}

const MSGPACK_CORPUS: Record<string, unknown>[] = [
  { type: "call", id: 1, command: "ping", args: [] },
  { type: "call", id: 2, command: "echo", args: ["a", "b"] },
  { type: "call", id: 3, command: "mixed" },
  { type: "call", id: 4, command: "add", args: ["1"], timeout: 100 },
  { type: "call", id: 5, command: "echo", input: true },
  { type: "input", id: 5, chunk: new Uint8Array([1, 2, 3]) },
  { type: "input-end", id: 5 },
  { type: "cancel", id: 1 },
  { type: "ping", id: 6 },
  { type: "bogus", id: 7 },
];

function msgpackInput(rng: Rng): Uint8Array {
  const base = encodeFrame(rng.pick(MSGPACK_CORPUS));
  const roll = rng.int(10);
  if (roll < 5) return base;
  if (roll === 5) return rng.bytes(1 + rng.int(40));
  if (roll === 6) {
    // A well-formed frame around a mutated body.
    return frame(mutate(rng, base.subarray(4), LIMITS.maxFrameBytes));
  }
  return mutate(rng, base, LIMITS.maxFrameBytes);
}

// ---------------------------------------------------------------- one connection

/** Sends `inputs`, a sentinel, half-closes, and reads until the server closes (bounded). */
async function exchange(
  path: string,
  head: Uint8Array,
  inputs: Uint8Array[],
  tail: Uint8Array,
): Promise<Uint8Array> {
  const conn = await Deno.connect({ transport: "unix", path });
  const chunks: Uint8Array[] = [];
  let received = 0;
  const reading = (async () => {
    const buf = new Uint8Array(64 * 1024);
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return;
      received += n;
      if (received > 16 * 1024 * 1024) throw new Error("Server answered more than 16 MiB to one batch");
      chunks.push(buf.slice(0, n));
    }
  })();
  try {
    const all = new Uint8Array([...head, ...inputs.flatMap((i) => [...i]), ...tail]);
    // The server may close first (msgpack after a fatal error): writes may then fail.
    await conn.write(all).then(async (n) => {
      let off = n;
      while (off < all.length) off += await conn.write(all.subarray(off));
    }).catch(() => {});
    await conn.closeWrite().catch(() => {});
    await within(reading, "the server to answer a fuzz batch and close", 15_000);
  } finally {
    conn.close();
  }
  const out = new Uint8Array(received);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

interface DialectFuzz {
  name: string;
  /** Runs one batch; returns how many inputs it sent. */
  batch(path: string, rng: Rng, n: number, no: number): Promise<number>;
}

const FUZZERS: DialectFuzz[] = [
  {
    name: "text",
    async batch(path, rng, n, no) {
      const inputs = Array.from({ length: n }, () => textInput(rng));
      const out = await exchange(
        path,
        enc.encode("ping\n"),
        inputs,
        enc.encode(`\necho fuzz-sentinel-${no}\n`),
      );
      const text = dec.decode(out);
      assert(
        text.includes(`fuzz-sentinel-${no}\n`),
        `text batch ${no} lost its sentinel:\n${text.slice(-500)}`,
      );
      return n;
    },
  },
  {
    name: "jsonl",
    async batch(path, rng, n, no) {
      const inputs = Array.from({ length: n }, () => jsonlInput(rng));
      const out = await exchange(
        path,
        enc.encode('{"id":"first","command":"ping"}\n'),
        inputs,
        enc.encode(`\n{"id":"sentinel-${no}","command":"echo","args":["ok"]}\n`),
      );
      const lines = dec.decode(out).split("\n");
      assertEquals(lines.pop(), "", "the last answer ends with a newline");
      // Whatever came in, every answer is one valid JSON object with an id and either data, pong or a status.
      const answers = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const a of answers) {
        assert("id" in a && ("data" in a || "pong" in a || typeof a.status === "number"), JSON.stringify(a));
      }
      assert(
        answers.some((a) => a.id === `sentinel-${no}` && a.status === 0 && a.result === "ok"),
        `jsonl batch ${no} lost its sentinel`,
      );
      return n;
    },
  },
  {
    name: "msgpack",
    async batch(path, rng, n, no) {
      // Any undecodable frame ends a msgpack connection, so batches are short.
      const count = Math.min(n, 1 + rng.int(10));
      const inputs = Array.from({ length: count }, () => msgpackInput(rng));
      const head = rng.int(50) === 0 ? mutate(rng, MSGPACK_PREFACE, 64) : MSGPACK_PREFACE;
      const out = await exchange(
        path,
        head.length && head[0] === 0 ? head : MSGPACK_PREFACE,
        inputs,
        encodeFrame({ type: "call", id: `sentinel-${no}`, command: "echo", args: ["ok"] }),
      );
      // Whatever came in, the server answers in whole, decodable frames.
      const decoder = new FrameDecoder(1 << 24);
      const frames = decoder.push(out).map((b) => decodeFrameBody(b.slice()));
      assertEquals(decoder.buffered, 0, "no partial frame");
      assert(frames.length >= 1, "at least the hello or an error");
      const answered = frames.some((f) => f.id === `sentinel-${no}` && f.status === 0 && f.result === "ok");
      // An end with id null answers what could not be tied to a call; after the one that ends the
      // connection (the last), only the calls already in flight may still send their last frames.
      const at = frames.findLastIndex((f) => f.type === "end" && f.id === null);
      const fatal = at >= 0 &&
        frames.slice(at + 1).every((f) => (f.type === "data" || f.type === "end") && f.id !== null);
      assert(
        answered || fatal,
        `msgpack batch ${no} neither answered its sentinel nor ended with an error: ${
          JSON.stringify(frames.slice(-4))
        }`,
      );
      return count;
    },
  },
];

/** Keeps calling `echo` on each dialect until `stop` resolves; returns the successes per dialect. */
async function wellBehaved(path: string, stop: Promise<void>): Promise<number[]> {
  let stopped = false;
  stop.then(() => stopped = true);
  return await Promise.all(ADAPTERS.map(async (adapter) => {
    let ok = 0;
    const client: DialectClient = await adapter.connect(path);
    try {
      while (!stopped) {
        const o = await client.call("echo", ["steady", String(ok)]);
        assertEquals([o.status, dec.decode(o.transcript)], [0, `steady ${ok}\n`]);
        ok++;
        await new Promise((r) => setTimeout(r, 2));
      }
    } finally {
      client.close();
      await within(client.closed, "a well-behaved client to close");
    }
    return ok;
  }));
}

async function withFuzzServer(fn: (server: Server) => Promise<void>) {
  await using tmp = await tempDir();
  const keep = new Set(["add", "args", "boom", "mixed"]);
  const server = await serve({
    path: `${tmp.dir}/fuzz.sock`,
    commands: testKit().commands.filter((c) => keep.has(c.name)),
    limits: LIMITS,
  });
  try {
    await fn(server);
  } finally {
    await server.close({ drainMs: 0 });
  }
}

Deno.test(`fuzz: ${TOTAL} random and mutated inputs across the three dialects (seed ${SEED})`, async () => {
  await withFuzzServer(async (server) => {
    const rng = prng(SEED);
    const per = Math.ceil(TOTAL / FUZZERS.length);
    let done!: () => void;
    const finished = new Promise<void>((r) => done = r);
    const steady = wellBehaved(server.path, finished);
    // If a steady client fails, stop fuzzing and report it (not as an unhandled rejection).
    let steadyFailed: unknown;
    steady.catch((err) => {
      steadyFailed = err;
    });
    const before = await liveMiB();
    const sent: Record<string, number> = {};
    try {
      for (const fuzzer of FUZZERS) {
        let count = 0;
        let batchNo = 0;
        while (count < per && steadyFailed === undefined) {
          // A few connections at once; each batch gets its own seeded generator.
          const n = Math.max(1, Math.min(PER_CONNECTION, Math.ceil((per - count) / PARALLEL)));
          const jobs = Array.from({ length: PARALLEL }, () => {
            const batchRng = prng(rng.int(2 ** 32));
            const no = batchNo++;
            return fuzzer.batch(server.path, batchRng, n, no).catch((err) => {
              throw new Error(`${fuzzer.name} batch ${no} failed (seed ${SEED}): ${err.message}`, {
                cause: err,
              });
            });
          });
          // A batch may send fewer inputs than asked (msgpack's are short): count what was sent.
          count += (await Promise.all(jobs)).reduce((a, b) => a + b, 0);
        }
        sent[fuzzer.name] = count;
      }
    } finally {
      done();
    }
    const successes = await steady;
    await waitFor(() => server.connections === 0, 5_000, "every fuzz connection to close");
    const grew = await liveMiB() - before;
    const total = Object.values(sent).reduce((a, b) => a + b, 0);
    assert(total >= TOTAL, `only ${total} inputs sent: ${JSON.stringify(sent)}`);
    for (const [i, n] of successes.entries()) {
      assert(n > 0, `the well-behaved ${ADAPTERS[i]!.name} client got no answers during the fuzz`);
    }
    // What is left once the connections are gone: nothing grows with the number of inputs.
    assert(grew < 16, `live memory grew by ${grew.toFixed(1)} MiB over the fuzz`);
    console.log(
      `fuzz: ${total} inputs ${JSON.stringify(sent)}, steady answers ${
        JSON.stringify(successes)
      }, live memory ${grew >= 0 ? "+" : ""}${grew.toFixed(1)} MiB`,
    );
  });
});

/**
 * Sends `first`, then `size` bytes without a newline, then a newline and
 * `after`; returns what came back, how much had been sent when the first
 * answer arrived, and the most live memory grew by while sending (sampled
 * every MiB, after garbage collection).
 */
async function flood(path: string, first: string, size: number, after: string) {
  const conn = await Deno.connect({ transport: "unix", path });
  let sent = 0;
  let sentWhenAnswered = -1;
  const chunks: string[] = [];
  const reading = (async () => {
    const buf = new Uint8Array(64 * 1024);
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return;
      if (sentWhenAnswered < 0) sentWhenAnswered = sent;
      chunks.push(dec.decode(buf.subarray(0, n)));
    }
  })();
  try {
    await conn.write(enc.encode(first));
    const piece = new Uint8Array(64 * 1024).fill(0x61);
    const before = await liveMiB();
    let peak = 0;
    let nextSample = 1 << 20;
    while (sent < size) {
      sent += await conn.write(piece);
      if (sent >= nextSample) {
        peak = Math.max(peak, await liveMiB() - before);
        nextSample += 1 << 20;
      }
    }
    await conn.write(enc.encode(`\n${after}`));
    await conn.closeWrite();
    await within(reading, "the answers to a flood", 30_000);
    return { text: chunks.join(""), sentWhenAnswered, peakMiB: peak };
  } finally {
    conn.close();
  }
}

const FLOOD_BYTES = 10 * 1024 * 1024;

Deno.test("fuzz: a 10 MB line without a newline is answered 108 early and never buffered", async (t) => {
  await withFuzzServer(async (server) => {
    const check = (r: Awaited<ReturnType<typeof flood>>) => {
      // The 108 came while the flood was still being sent: the server does not wait for the newline.
      assert(
        r.sentWhenAnswered >= 0 && r.sentWhenAnswered < FLOOD_BYTES / 4,
        `answered after ${r.sentWhenAnswered} bytes`,
      );
      // Holding the line would take 10 MiB by the end; dropping it takes nothing.
      assert(
        r.peakMiB < 2,
        `live memory grew by ${r.peakMiB.toFixed(1)} MiB during a ${FLOOD_BYTES >> 20} MiB flood`,
      );
    };
    await t.step("text", async () => {
      const r = await flood(server.path, "echo ", FLOOD_BYTES, "echo still here\n");
      assertEquals(
        r.text,
        `error 108: Line exceeds the limit of 512 bytes (dropped up to the next newline)\nstill here\n`,
      );
      check(r);
    });
    await t.step("jsonl", async () => {
      const r = await flood(
        server.path,
        '{"id":1,"command":"echo","args":["',
        FLOOD_BYTES,
        '{"id":2,"command":"ping"}\n',
      );
      const answers = r.text.trimEnd().split("\n").map((l) => JSON.parse(l));
      assertEquals(answers.map((a) => [a.id, a.status]), [[null, Status.TOO_LARGE], [2, 0]]);
      check(r);
    });
  });
});

/** `first`, then 10 MiB of "a" in 4 KiB pieces, then a newline and a ping; counts the bytes pulled. */
async function* tenMiBLine(first: string, pulled: { bytes: number }): AsyncGenerator<Uint8Array> {
  const piece = new Uint8Array(4096).fill(0x61);
  yield enc.encode(first);
  for (let i = 0; i < 2560; i++) {
    pulled.bytes += piece.length;
    yield piece;
  }
  yield enc.encode('\n{"id":1,"ping":true}\n');
}

Deno.test("fuzz: a dialect's decoder reports an over-long line before reading the rest of it", async () => {
  const limits = resolveLimits({ maxLineBytes: 1024 });
  for (const factory of [textDialect, jsonlDialect]) {
    const dialect: Dialect = factory.create({ limits, hello: { name: "sockd", version: "test" } });
    const pulled = { bytes: 0 };
    const seen: [Request["type"], number, number][] = [];
    for await (
      const r of decodeStream(dialect.decoder(), tenMiBLine(factory === jsonlDialect ? "{" : "e", pulled))
    ) {
      seen.push([r.type, r.type === "error" ? r.status : 0, pulled.bytes]);
    }
    assertEquals(seen[0]!.slice(0, 2), ["error", Status.TOO_LARGE], factory.name);
    assert(seen[0]![2] <= 2 * 4096, `${factory.name}: reported after ${seen[0]![2]} bytes`);
    assertEquals(seen.length, 2, `${factory.name}: one error, then the next line`);
    assertEquals(pulled.bytes, 10 * 1024 * 1024);
  }
});
