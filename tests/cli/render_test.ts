/**
 * render.ts and the JSON lines dialect share `toJsonValue`
 * (lib/_to_json_value.ts, platform base64, no node:buffer, to keep `sockd
 * call`'s cold start short): render must answer json_value.ts's form, and
 * that form's base64 must stay node:buffer's, which it was before.
 */
import { Buffer } from "node:buffer";
import { fromJsonValue, toJsonValue } from "../../lib/json_value.ts";
import { jsonData, jsonEnd, renderChunk, renderResult } from "../../lib/cli/render.ts";
import { SockdError, Status } from "../../lib/errors.ts";
import { assertEquals, assertThrows } from "../assert.ts";

const dec = new TextDecoder();

function values(): unknown[] {
  const bytes = new Uint8Array(300);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff;
  return [
    new Uint8Array(0),
    new Uint8Array([0]),
    new Uint8Array([0xff, 0xfe]),
    new Uint8Array([1, 2, 3]),
    bytes,
    bytes.subarray(7, 250), // a view with an offset into a larger buffer
    { nested: [bytes.subarray(1, 5), { deeper: new Uint8Array([9]) }], n: 1.5, s: "é" },
    [null, true, 0, -1, "x", [new Uint8Array([42])]],
    { at: new Date(0), big: 12345678901234567890n },
    "text",
    42,
    null,
  ];
}

Deno.test("render: --json lines and human output equal json_value.ts's JSON form, bytes included", () => {
  for (const v of values()) {
    const want = toJsonValue(v);
    assertEquals(dec.decode(jsonData(v)), JSON.stringify({ data: want }) + "\n");
    assertEquals(dec.decode(jsonEnd(v)), JSON.stringify({ status: 0, result: want ?? null }) + "\n");
    if (!(v instanceof Uint8Array) && typeof v !== "string") {
      assertEquals(dec.decode(renderChunk(v)), JSON.stringify(want) + "\n");
      if (v !== null) assertEquals(dec.decode(renderResult(v)), JSON.stringify(want, null, 2) + "\n");
    }
  }
  const details = { usage: "x", raw: new Uint8Array([1]) };
  const err = new SockdError(Status.BAD_ARGS, "Bad", { details });
  assertEquals(
    dec.decode(jsonEnd(undefined, err)),
    JSON.stringify({ status: 110, name: "BAD_ARGS", error: "Bad", details }) + "\n",
  );
});

Deno.test("render: a value nested past 64 levels is refused, as json_value.ts refuses it", () => {
  let deep: unknown = 1;
  for (let i = 0; i < 70; i++) deep = [deep];
  assertThrows(() => toJsonValue(deep), RangeError);
  assertThrows(() => jsonData(deep), RangeError);
});

Deno.test("render: bytes become node:buffer's base64, and read back through fromJsonValue", () => {
  const all = new Uint8Array(256).map((_, i) => i);
  for (let n = 0; n <= 7; n++) {
    for (const bytes of [all.subarray(0, n), all.subarray(256 - n), all.subarray(3, 3 + n * 20)]) {
      const base64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64");
      assertEquals(toJsonValue(bytes), { $base64: base64 });
      assertEquals(fromJsonValue(toJsonValue([bytes])), [new Uint8Array(bytes)]);
    }
  }
});
