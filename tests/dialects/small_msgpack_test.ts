import { decode, encode } from "../../lib/codec.ts";
import { encodeFrame } from "../../lib/dialects/msgpack.ts";
import {
  endFrame,
  readCallFrame,
  readOkEnd,
  readSmallMap,
  writeCallFrame,
} from "../../lib/dialects/_small_msgpack.ts";
import { assert, assertEquals } from "../assert.ts";

const IDS = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1];
const STRINGS = ["", "ping", "x".repeat(31), "x".repeat(32), "y".repeat(100), "z".repeat(255)];

function call(id: number, command: string, args: string[], timeout?: number) {
  const m: Record<string, unknown> = { type: "call", id, command, args };
  if (timeout !== undefined) m.timeout = timeout;
  return m;
}

Deno.test("small msgpack: a call frame is byte for byte what msgpackr writes", () => {
  const out = new Uint8Array(8192);
  let n = 0;
  for (const id of IDS) {
    for (const command of STRINGS) {
      for (const args of [[], ["a"], Array.from({ length: 15 }, (_, i) => `a${i}`), Array(16).fill("b")]) {
        for (const timeout of [undefined, 0, 50, 300_000]) {
          const end = writeCallFrame(out, 10, id, command, args, timeout);
          assertEquals([...out.subarray(10, end)], [...encodeFrame(call(id, command, args, timeout))]);
          n++;
        }
      }
    }
  }
  assertEquals(n, IDS.length * STRINGS.length * 4 * 4);
});

Deno.test("small msgpack: what is not written by hand answers -1 (the caller falls back to msgpackr)", () => {
  const out = new Uint8Array(8192);
  assertEquals(writeCallFrame(out, 0, 1, "héllo", [], undefined), -1, "non-ASCII command");
  assertEquals(writeCallFrame(out, 0, 1, "echo", ["ünï"], undefined), -1, "non-ASCII argument");
  assertEquals(writeCallFrame(out, 0, 1, "x".repeat(256), [], undefined), -1, "long command");
  assertEquals(writeCallFrame(out, 0, 1, "ping", [], 1.5), -1, "fractional timeout");
  assertEquals(writeCallFrame(out, 0, 2 ** 32, "ping", [], undefined), -1, "id above 32 bits");
  assertEquals(
    writeCallFrame(out, 0, 1, "echo", [1 as unknown as string], undefined),
    -1,
    "a number argument",
  );
  assertEquals(writeCallFrame(out, 0, 1, null as unknown as string, [], undefined), -1, "no command");
  assertEquals(writeCallFrame(new Uint8Array(20), 0, 1, "ping", ["a", "b"], undefined), -1, "no room");
});

Deno.test("small msgpack: an OK end is byte for byte what msgpackr writes, or left to msgpackr", () => {
  const results = [
    undefined,
    null,
    true,
    false,
    0,
    5,
    300,
    70_000,
    2 ** 32 - 1,
    "pong",
    "p".repeat(40),
    "p".repeat(255),
  ];
  for (const id of [...IDS, "abc", "x".repeat(40)]) {
    for (const result of results) {
      assertEquals([...endFrame(id, result)!], [...encodeFrame({ type: "end", id, status: 0, result })]);
    }
  }
  for (const result of [-1, 1.5, 2 ** 32, "é", "p".repeat(256), { a: 1 }, [1], new Uint8Array(1)]) {
    assertEquals(endFrame(1, result), undefined, `result ${String(result)}`);
  }
  assertEquals(endFrame("é", 1), undefined);
});

Deno.test("small msgpack: small maps read as msgpackr reads them", () => {
  const values: Record<string, unknown>[] = [
    { type: "end", id: 7, status: 0, result: "pong" },
    { type: "end", id: "x", status: 104, error: "Timed out" },
    { type: "call", id: 1, command: "echo", args: ["a", "b"], input: true, timeout: 50 },
    { a: -1, b: -32, c: -33, d: -200, e: -40_000, f: -(2 ** 31), g: 2 ** 32 - 1, h: 1.5, i: -2.25, j: null },
    { k: true, l: false, m: 255, n: 65_535, o: "s".repeat(200), p: [] },
    {},
  ];
  for (const value of values) {
    const bytes = encode(value);
    assertEquals(readSmallMap(bytes, 0, bytes.length), decode(bytes) as Record<string, unknown>);
  }
  // It reads inside a larger buffer.
  const bytes = new Uint8Array([1, 2, ...encode({ a: 1 }), 3]);
  assertEquals(readSmallMap(bytes, 2, bytes.length - 1), { a: 1 });
});

Deno.test("small msgpack: anything else, malformed input included, is left to msgpackr", () => {
  const fallback = (value: Uint8Array, why: string) =>
    assertEquals(readSmallMap(value, 0, value.length), undefined, why);
  fallback(
    encode(JSON.parse('{"__proto__": 1}')),
    "__proto__ key (msgpackr renames it)",
  );
  fallback(encode(JSON.parse('{"__proto__": {"polluted": true}}')), "__proto__ key with a map");
  fallback(encode({ a: { b: 1 } }), "nested map");
  fallback(encode({ a: [[1]] }), "nested array");
  fallback(encode({ a: "é" }), "non-ASCII string");
  fallback(encode({ "é": 1 }), "non-ASCII key");
  fallback(encode({ a: new Uint8Array(2) }), "bytes");
  fallback(new Uint8Array([0x81, 0xa1, 0x61, 0xcf, 0, 0, 0, 0, 0, 0, 0, 1]), "64-bit integer");
  fallback(encode([1, 2]), "not a map");
  fallback(new Uint8Array(0), "empty");
  fallback(new Uint8Array([0x81, 0xa1, 0x61, 0xc1]), "the never-used byte");
  const good = encode({ a: "hello" });
  fallback(good.subarray(0, good.length - 1), "truncated string");
  fallback(new Uint8Array([...good, 0]), "trailing byte");
  fallback(new Uint8Array([0x81, 0xa1, 0x61, 0xce, 0, 0]), "truncated integer");
  fallback(new Uint8Array([0x82, 0xa1, 0x61, 0x01]), "fewer entries than announced");
  assert(!("polluted" in {}), "the prototype is untouched");
});

Deno.test("small msgpack: call frames the client writes read back field for field", () => {
  const out = new Uint8Array(8192);
  for (const id of IDS) {
    for (const args of [[], ["a", "x".repeat(40)]]) {
      for (const timeout of [undefined, 0, 300_000]) {
        const end = writeCallFrame(out, 0, id, "echo", args, timeout);
        assertEquals(readCallFrame(out, 4, end), { id, command: "echo", args, input: false, timeout });
      }
    }
  }
  const withInput = encodeFrame({
    type: "call",
    id: "s1",
    command: "upper",
    args: [],
    input: true,
    timeout: 9,
  });
  assertEquals(readCallFrame(withInput, 4, withInput.length), {
    id: "s1",
    command: "upper",
    args: [],
    input: true,
    timeout: 9,
  });
  const fractional = encodeFrame({ type: "call", id: 1, command: "x", args: [], timeout: 1.5 });
  assertEquals(readCallFrame(fractional, 4, fractional.length)?.timeout ?? 1.5, 1.5, "a fractional timeout");
  const noCall = (m: Record<string, unknown>, why: string) => {
    const f = encodeFrame(m);
    assertEquals(readCallFrame(f, 4, f.length), undefined, why);
  };
  noCall({ type: "call", id: 1, command: "x", args: [1] }, "a number argument");
  noCall({ type: "call", id: 1, command: "x", args: [], timeout: -1 }, "a negative timeout");
  noCall({ type: "call", id: 1, command: "x", args: [], input: 1 }, "input not a boolean");
  noCall({ type: "call", id: 1, args: [], command: "x" }, "another key order");
  noCall({ type: "call", id: 1, command: "x" }, "no args");
  noCall({ type: "call", id: 1, command: "x", args: [], extra: 1 }, "an unknown key");
  noCall({ type: "cancel", id: 1, command: "x", args: [] }, "another type");
  noCall({ type: "call", id: null, command: "x", args: [] }, "a null id");
});

Deno.test("small msgpack: OK ends with scalar results read back; anything else is left to msgpackr", () => {
  for (const result of [undefined, null, true, 0, 300, -5, 1.5, "pong", "p".repeat(100)]) {
    const f = encodeFrame({ type: "end", id: 77, status: 0, result });
    assertEquals(readOkEnd(f, 4, f.length), { id: 77, result: result ?? null });
  }
  for (
    const m of [
      { type: "end", id: 7, status: 105, error: "Broke" },
      { type: "end", id: 7, status: 0, result: { a: 1 } },
      { type: "end", id: "s", status: 0, result: 1 },
      { type: "end", id: 7, status: 0, result: "é" },
      { type: "data", id: 7, status: 0, result: 1 },
    ]
  ) {
    const f = encodeFrame(m);
    assertEquals(readOkEnd(f, 4, f.length), undefined, JSON.stringify(m));
  }
  const f = encodeFrame({ type: "end", id: 7, status: 0, result: 1 });
  assertEquals(readOkEnd(f, 4, f.length - 1), undefined, "truncated");
});
