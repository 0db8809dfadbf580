import { BatchWriter } from "../lib/_batch_writer.ts";
import { concatBytes } from "../lib/_bytes.ts";
import { _alarmState } from "../lib/_idle_clock.ts";
import { writeEvent } from "../lib/_event_writer.ts";
import type { Dialect, Event } from "../lib/dialects/dialect.ts";
import { msgpackDialect } from "../lib/dialects/msgpack.ts";
import { Status } from "../lib/errors.ts";
import { resolveLimits } from "../lib/limits.ts";
import { assert, assertEquals } from "./assert.ts";

/** A transport that records each write; `take` limits how much one write takes. */
function recorder(take = Infinity) {
  const writes: Uint8Array[] = [];
  return {
    writes,
    transport: {
      read: () => Promise.resolve(null),
      write: (b: Uint8Array) => {
        const n = Math.min(b.length, take);
        writes.push(b.slice(0, n));
        return Promise.resolve(n);
      },
      close() {},
    },
  };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("batch writer: text and bytes queued in one turn go out in order, in one write, as TextEncoder encodes them", async () => {
  const { writes, transport } = recorder();
  const out = new BatchWriter(transport, (err) => {
    throw err;
  });
  // Multi-byte and lone-surrogate text beyond the first buffer, so the encoder has to make room as it goes.
  const wide = "é€😀\ud800".repeat(2000);
  out.pushText("a\n");
  out.push(enc.encode("bytes\n"), true);
  out.pushText(wide);
  out.pushText("b\n");
  out.flushQueued();
  await out.drained();
  assertEquals(writes.length, 1);
  assertEquals(writes[0], enc.encode("a\nbytes\n" + wide + "b\n"));
  out.close();
});

Deno.test("batch writer: a lone text answer is written by itself; text longer than what is gathered is encoded at once", async () => {
  const { writes, transport } = recorder();
  const out = new BatchWriter(transport, (err) => {
    throw err;
  });
  out.pushText("pong\n");
  out.flushQueued();
  await out.drained();
  assertEquals(writes.map((w) => dec.decode(w)), ["pong\n"]);
  const long = "x".repeat(40_000) + "\n";
  out.pushText(long);
  out.pushText("y\n");
  out.flushQueued();
  await out.drained();
  assertEquals(dec.decode(writes[1]), long + "y\n");
  out.close();
});

Deno.test("batch writer: a socket that takes part of a write gets the rest, in order", async () => {
  const { writes, transport } = recorder(7);
  const out = new BatchWriter(transport, (err) => {
    throw err;
  });
  for (let i = 0; i < 5; i++) out.pushText(`answer ${i}\n`);
  out.flushQueued();
  await out.drained();
  assertEquals(
    dec.decode(new Uint8Array(writes.flatMap((w) => [...w]))),
    "answer 0\nanswer 1\nanswer 2\nanswer 3\nanswer 4\n",
  );
  assertEquals(writes.every((w) => w.length <= 7), true);
  out.close();
});

Deno.test("batch writer: a quiet connection drops its batch buffers; closing stops the alarm that drops them", async () => {
  const { writes, transport } = recorder();
  const out = new BatchWriter(transport, (err) => {
    throw err;
  });
  out.pushText("a\n");
  out.push(enc.encode("b\n"), true);
  out.flushQueued();
  await out.drained();
  assertEquals(dec.decode(writes[0]), "a\nb\n");
  // The batch buffer is kept for the next batch, and an alarm set to drop it once the connection is quiet.
  assertEquals(_alarmState(), { set: 1, timer: true });
  out.close();
  assertEquals(_alarmState(), { set: 0, timer: false });
});

Deno.test("batch writer: the first 16 answers of a long turn are written at once, the rest together once that write is done", async () => {
  const { writes, transport } = recorder();
  const out = new BatchWriter(transport, (err) => {
    throw err;
  });
  const answer = (i: number) => enc.encode(`answer ${i}\n`);
  for (let i = 0; i < 15; i++) out.push(answer(i), true);
  assertEquals(writes.length, 0, "15 answers wait for the end of the turn");
  out.push(answer(15), true);
  assertEquals(writes.length, 1, "the 16th starts a write before the turn ends");
  for (let i = 16; i < 40; i++) out.push(answer(i), true);
  out.flushQueued();
  await out.drained();
  const lines = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => `answer ${from + i}\n`).join("");
  assertEquals(writes.map((w) => dec.decode(w)), [lines(0, 16), lines(16, 40)]);
  out.close();
});

Deno.test("batch writer: msgpack answers written straight into the batch are the bytes encode() makes, in order", async () => {
  const { writes, transport } = recorder(1000);
  const out = new BatchWriter(transport, (err) => {
    throw err;
  });
  const dialect = msgpackDialect.create({
    limits: resolveLimits({}),
    hello: { name: "sockd", version: "t" },
  });
  const encoder = msgpackDialect.create({
    limits: resolveLimits({}),
    hello: { name: "sockd", version: "t" },
  });
  const want: Uint8Array[] = [];
  let direct = 0;
  const counting: Dialect = {
    name: dialect.name,
    concurrent: true,
    decoder: () => dialect.decoder(),
    encode: (event) => dialect.encode(event),
    dataHeader: (id, chunk) => dialect.dataHeader!(id, chunk),
    encodeInto: (event, sink) => dialect.encodeInto!(event, sink) && ++direct > 0,
  };
  // Ends written by hand (ids and results of every handled kind) among ends that are not, errors and
  // bytes chunks; enough of them to grow the batch buffer and to start early writes.
  const results = [
    undefined,
    null,
    true,
    false,
    0,
    127,
    128,
    65535,
    2 ** 32 - 1,
    2 ** 32,
    -1,
    1.5,
    "pong",
    "é",
    {
      a: 1,
    },
    "x".repeat(300),
  ];
  for (let i = 0; i < 600; i++) {
    const id = i % 3 === 0 ? `c${i}` : i * 977;
    let event: Event;
    if (i % 7 === 3) event = { type: "data", id, chunk: new Uint8Array(i % 50).fill(i) };
    else if (i % 11 === 5) event = { type: "end", id, status: Status.BAD_ARGS, error: "no" };
    else event = { type: "end", id, status: Status.OK, result: results[i % results.length] };
    writeEvent(out, counting, event);
    if (event.type === "data") {
      want.push(encoder.dataHeader!(id, event.chunk as Uint8Array), event.chunk as Uint8Array);
    } else want.push(encoder.encode(event));
    if (i % 100 === 99) await out.drained();
  }
  out.flushQueued();
  await out.drained();
  assertEquals(concatBytes(writes), concatBytes(want));
  assert(direct > 200, `only ${direct} answers were written straight into the batch`);
  out.close();
});

/** Text around the short-answer path's limits: ASCII edges, non-ASCII at the start, the end, past the limit. */
const TRICKY_TEXTS = [
  "pong\n",
  "\u0000\u007f\t\r\n",
  "é\n",
  "a".repeat(31) + "é",
  "a".repeat(32),
  "a".repeat(33),
  "a".repeat(32) + "é",
  "é" + "a".repeat(31),
  "€😀\n",
  "x\ud800\n",
  "\udc00",
  "a".repeat(200) + "\n",
];

Deno.test("batch writer: short text answers, alone or together, are the bytes TextEncoder makes", async () => {
  const { writes, transport } = recorder();
  const out = new BatchWriter(transport, (err) => {
    throw err;
  });
  for (const text of TRICKY_TEXTS) {
    out.pushText(text);
    out.flushQueued();
    await out.drained();
    assertEquals(writes.at(-1), enc.encode(text), `alone: ${JSON.stringify(text)}`);
  }
  // Together (more than one write: the first 16 answers start one early).
  const from = writes.length;
  for (const text of TRICKY_TEXTS) out.pushText(text);
  out.push(enc.encode("bytes\n"), true);
  for (const text of TRICKY_TEXTS) out.pushText(text);
  out.flushQueued();
  await out.drained();
  const all = TRICKY_TEXTS.join("");
  assertEquals(concatBytes(writes.slice(from)), enc.encode(all + "bytes\n" + all));
  out.close();
});

Deno.test("batch writer: a write the socket takes at once (a number back) goes on without waiting, in order", async () => {
  const writes: Uint8Array[] = [];
  let calls = 0;
  const out = new BatchWriter({
    read: () => Promise.resolve(null),
    // Takes 3 bytes at once, then makes the rest wait, by turns.
    write: (b: Uint8Array) => {
      const n = Math.min(b.length, 3);
      writes.push(b.slice(0, n));
      return calls++ % 2 === 0 ? n : Promise.resolve(n);
    },
    close() {},
  }, (err) => {
    throw err;
  });
  out.pushText("pong\n");
  out.flushQueued();
  // The first 3 bytes went at once, before any promise settled.
  assertEquals(dec.decode(writes[0]), "pon");
  for (let i = 0; i < 20; i++) out.pushText(`answer ${i}\n`);
  out.flushQueued();
  await out.drained();
  const want = "pong\n" + Array.from({ length: 20 }, (_, i) => `answer ${i}\n`).join("");
  assertEquals(dec.decode(concatBytes(writes)), want);
  out.close();
});

Deno.test("batch writer: a buffer whose write is still queued is not written into until the write is done", async () => {
  // The socket keeps the bytes it is given (no copy) and takes them later, as a queued write does.
  const kept: { bytes: Uint8Array; done: () => void }[] = [];
  let atOnce = true;
  const out = new BatchWriter({
    read: () => Promise.resolve(null),
    write: (b: Uint8Array) => {
      if (atOnce) {
        kept.push({ bytes: b.slice(), done: () => {} });
        return b.length;
      }
      const { promise, resolve } = Promise.withResolvers<number>();
      kept.push({ bytes: b, done: () => resolve(b.length) });
      return promise;
    },
    close() {},
  }, (err) => {
    throw err;
  });
  // Taken at once: its buffer is used again for the next answer.
  out.pushText("one\n");
  out.flushQueued();
  atOnce = false;
  out.pushText("two\n");
  out.flushQueued();
  // Queued while "two" waits (bytes are copied into the batch at once, text too once bytes follow it):
  // must land in another buffer than the one the socket holds.
  out.pushText("three\n");
  out.push(enc.encode("four\n"), true);
  out.flushQueued();
  assertEquals(kept.map((k) => dec.decode(k.bytes)), ["one\n", "two\n"]);
  kept[1]!.done();
  while (kept.length < 3) await Promise.resolve();
  out.pushText("five\n");
  kept[2]!.done();
  const drained = out.drained();
  while (kept.length < 4) await Promise.resolve();
  assertEquals(dec.decode(kept[2]!.bytes), "three\nfour\n");
  kept[3]!.done();
  await drained;
  // (A buffer's bytes may change once its write is done: only the last write's are still its own.)
  assertEquals(dec.decode(kept[3]!.bytes), "five\n");
  out.close();
});

Deno.test("batch writer: a short answer whose write waits keeps its bytes while other connections write theirs", async () => {
  // A socket that keeps the bytes it is given (no copy) and takes them later, as a queued write does.
  const held: Uint8Array[] = [];
  const release: (() => void)[] = [];
  const slow = new BatchWriter({
    read: () => Promise.resolve(null),
    write: (b: Uint8Array) => {
      held.push(b);
      const { promise, resolve } = Promise.withResolvers<number>();
      release.push(() => resolve(b.length));
      return promise;
    },
    close() {},
  }, (err) => {
    throw err;
  });
  // A socket that takes every write at once.
  const fast: string[] = [];
  const quick = new BatchWriter({
    read: () => Promise.resolve(null),
    write: (b: Uint8Array) => {
      fast.push(dec.decode(b));
      return b.length;
    },
    close() {},
  }, (err) => {
    throw err;
  });
  slow.pushText("slow one\n");
  slow.flushQueued();
  for (let i = 0; i < 3; i++) {
    quick.pushText(`fast ${i}\n`);
    quick.flushQueued();
  }
  assertEquals(fast, ["fast 0\n", "fast 1\n", "fast 2\n"]);
  assertEquals(held.map((b) => dec.decode(b)), ["slow one\n"]);
  release[0]!();
  await slow.drained();
  slow.close();
  quick.close();
});
