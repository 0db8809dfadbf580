import { type LineItem, LineReader } from "../../lib/dialects/_line_reader.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Items rendered as strings: lines as their text, too-long reports as "<too long>". */
function show(items: LineItem[]): string[] {
  return items.map((i) => i.type === "line" ? dec.decode(i.bytes) : "<too long>");
}

function feed(reader: LineReader, ...chunks: string[]): string[] {
  const out: string[] = [];
  for (const c of chunks) out.push(...show(reader.push(enc.encode(c))));
  return out;
}

Deno.test("line reader: splits on \\n and \\r\\n, across chunk boundaries", () => {
  const r = new LineReader(64);
  assertEquals(feed(r, "a\nb\r\nc", "d\n", "\n", "e\r", "\nf"), ["a", "b", "cd", "", "e"]);
  assertEquals(r.buffered, 1);
  assertEquals(show(r.end()), ["f"]);
  assertEquals(r.buffered, 0);
  assertEquals(show(r.end()), []);
});

Deno.test("line reader: a lone \\r inside a line is kept", () => {
  assertEquals(feed(new LineReader(64), "a\rb\n"), ["a\rb"]);
});

Deno.test("line reader: lines of exactly the limit pass, one byte more is too long", () => {
  const r = new LineReader(4);
  assertEquals(feed(r, "abcd\n", "abcd\r\n", "abcde\n", "ok\n"), ["abcd", "abcd", "<too long>", "ok"]);
  // The same, with the line split over chunks.
  assertEquals(feed(r, "ab", "cd", "\r", "\n", "ab", "c", "de", "\n", "ok\n"), [
    "abcd",
    "<too long>",
    "ok",
  ]);
  // A 5-byte line ending in \r is 4 bytes of content plus the terminator's \r.
  assertEquals(feed(r, "abcd\r", "\n"), ["abcd"]);
  assertEquals(feed(r, "abcdx", "\n"), ["<too long>"]);
});

Deno.test("line reader: an over-long line is reported once, when it crosses the limit", () => {
  const r = new LineReader(8);
  assertEquals(feed(r, "0123"), []);
  assertEquals(feed(r, "456789"), ["<too long>"]);
  assertEquals(feed(r, "more", "and more"), []);
  assertEquals(r.buffered, 0);
  assertEquals(r.dropped, 22);
  assertEquals(feed(r, "tail\nnext\n"), ["next"]);
  assertEquals(r.dropped, 0);
});

Deno.test("line reader: an over-long line at end of stream is not returned", () => {
  const r = new LineReader(4);
  assertEquals(feed(r, "abcdefgh"), ["<too long>"]);
  assertEquals(show(r.end()), []);
});

Deno.test("line reader: 10 MB without a newline never holds more than the limit", () => {
  const limit = 64 * 1024;
  const r = new LineReader(limit);
  const piece = new Uint8Array(16 * 1024).fill(0x61);
  let reports = 0;
  let maxHeld = 0;
  for (let sent = 0; sent < 10 * 1024 * 1024; sent += piece.length) {
    reports += r.push(piece).length;
    maxHeld = Math.max(maxHeld, r.buffered);
  }
  assertEquals(reports, 1);
  assert(maxHeld <= limit + 1, `held ${maxHeld} bytes`);
  assertEquals(r.buffered, 0);
  assertEquals(r.dropped, 10 * 1024 * 1024);
  assertEquals(show(r.push(enc.encode("\nping\n"))), ["ping"]);
});

Deno.test("line reader: many lines in one chunk come back in order", () => {
  const lines = Array.from({ length: 1000 }, (_, i) => `line ${i}`);
  assertEquals(feed(new LineReader(16), lines.join("\n") + "\n"), lines);
});

Deno.test("line reader: byte-at-a-time feeding gives the same lines", () => {
  const text = "alpha\r\nbeta\n\ngamma-is-too-long-for-this\ndelta\n";
  const r = new LineReader(10);
  const out: string[] = [];
  for (const b of enc.encode(text)) out.push(...show(r.push(new Uint8Array([b]))));
  assertEquals(out, ["alpha", "beta", "", "<too long>", "delta"]);
});

Deno.test("line reader: a limit below 1 is a programmer error", () => {
  assertThrows(() => new LineReader(0), RangeError, "maxLineBytes must be a positive integer, got 0");
});
