import { decode, encode } from "../lib/codec.ts";
import { assert, assertEquals, assertThrows } from "./assert.ts";

Deno.test("codec: maps, strings, numbers, bytes and nil round-trip", () => {
  const value = {
    type: "data",
    id: 1,
    chunk: new Uint8Array([0, 255]),
    s: "héllo",
    n: -1.5,
    nil: null,
    list: [1, "a"],
  };
  const back = decode(encode(value)) as Record<string, unknown>;
  assertEquals([...(back.chunk as Uint8Array)], [0, 255]);
  assertEquals({ ...back, chunk: null }, { ...value, chunk: null });
});

Deno.test("codec: writes plain msgpack any implementation reads (fixmap, fixstr)", () => {
  // {"a":1} is 81 a1 61 01 in standard msgpack.
  assertEquals([...encode({ a: 1 })], [0x81, 0xa1, 0x61, 0x01]);
});

Deno.test("codec: truncated input and trailing bytes are errors, not partial values", () => {
  const good = encode({ a: "hello" });
  assertThrows(() => decode(good.subarray(0, good.length - 2)), Error, "Unexpected end of MessagePack data");
  assertThrows(() => decode(new Uint8Array([...good, 0x01])), Error, "found more bytes after it");
  assertThrows(() => decode(new Uint8Array(0)), Error, "Unexpected end of MessagePack data");
});

Deno.test("codec: a string header claiming more bytes than present fails cleanly", () => {
  // str32 claiming 4 GiB with 1 byte present
  assertThrows(() => decode(new Uint8Array([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61])), Error, "Unexpected end");
});

Deno.test("codec: deeply nested arrays do not crash the process", () => {
  const deep = new Uint8Array(200_000).fill(0x91); // [[[[...]]]]
  let threw = false;
  try {
    decode(deep);
  } catch {
    threw = true;
  }
  assert(threw);
});
