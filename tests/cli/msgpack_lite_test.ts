/**
 * The one-shot call's msgpack (lib/cli/_msgpack_lite.ts) against msgpackr as
 * lib/codec.ts configures it: whatever the server writes reads to the same
 * values, and whatever the client writes, the server reads as sent.
 */
import { decode, encode } from "../../lib/codec.ts";
import { decodeFrameBody as liteDecode, encodeFrame as liteEncode } from "../../lib/cli/_msgpack_lite.ts";
import { PREFACE } from "../../lib/dialects/_msgpack_bytes.ts";
import {
  decodeFrameBody,
  encodeFrame,
  MSGPACK_PREFACE,
  PROTOCOL_VERSION,
} from "../../lib/dialects/msgpack.ts";
import { SockdError } from "../../lib/errors.ts";
import { assertEquals, assertMatch, assertThrows } from "../assert.ts";

/** A small deterministic random source (xorshift), so a failure repeats. */
function rng(seed: number) {
  let s = seed;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

function randomValue(r: () => number, depth = 0): unknown {
  const kind = Math.floor(r() * (depth > 3 ? 8 : 11));
  const sizes = [0, 1, 15, 16, 31, 32, 255, 256, 70_000];
  const size = () => sizes[Math.floor(r() * (depth > 0 ? 7 : 9))]!;
  switch (kind) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2: {
      const ints = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33];
      return r() < 0.5 ? ints[Math.floor(r() * ints.length)]! * (r() < 0.2 ? -1 : 1) : (r() - 0.5) * 1e6;
    }
    case 3:
      return "é✓𝄞ab".repeat(Math.ceil(size() / 4)).slice(0, size());
    case 4: {
      const b = new Uint8Array(size());
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
      return b;
    }
    case 5:
      return [12345678901234567890n, -9007199254740993n, 2n ** 63n][Math.floor(r() * 3)];
    case 6:
      return [new Date(0), new Date(1_700_000_000_123), new Date(-1e12), new Date(2 ** 34 * 1000 + 5)][
        Math.floor(r() * 4)
      ];
    case 7:
      return Number.NaN;
    case 8:
    case 9:
      return Array.from({ length: Math.min(size(), 40) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      const n = Math.min(size(), 20);
      for (let i = 0; i < n; i++) o[`k${i}${"é".repeat(i % 3)}`] = randomValue(r, depth + 1);
      return o;
    }
  }
}

Deno.test("msgpack lite: reads what the server's codec writes to the values msgpackr reads", () => {
  const r = rng(0x5eed);
  for (let i = 0; i < 600; i++) {
    const message = { type: "data", id: i, chunk: randomValue(r) };
    const body = encode(message);
    assertEquals(liteDecode(body), decode(body), `value ${i}`);
  }
  // The special cases one by one.
  const specials: unknown[] = [
    JSON.parse('{"__proto__": {"x": 1}, "y": 2}'),
    new Date(Number.NaN),
    { undefinedIsNil: undefined },
    "x".repeat(70_000),
    new Array(70_000).fill(1),
  ];
  for (const chunk of specials) {
    const body = encode({ type: "data", id: 1, chunk });
    assertEquals(liteDecode(body), decode(body));
  }
});

Deno.test("msgpack lite: what the client writes reads back as sent; the preface is PROTOCOL.md's", () => {
  // Both paths send the shared bytes; they must be PROTOCOL.md's: NUL, "SOCKD", NUL, the version.
  const documented = new Uint8Array([0, ..."SOCKD"].map((c) => typeof c === "number" ? c : c.charCodeAt(0)));
  assertEquals(PREFACE, new Uint8Array([...documented, 0, PROTOCOL_VERSION]));
  assertEquals(MSGPACK_PREFACE, PREFACE);
  const messages: Record<string, unknown>[] = [
    { type: "call", id: 1, command: "ping", args: [] },
    { type: "call", id: 2, command: "é", args: ["a", "x".repeat(40), "y".repeat(300), "z".repeat(70_000)] },
    { type: "call", id: 3, command: "wc", args: Array.from({ length: 20 }, (_, i) => `${i}`), input: true },
    { type: "call", id: 2 ** 32 - 1, command: "x", timeout: 300_000 },
    { type: "input", id: 4, chunk: new Uint8Array(70_000).fill(7) },
    { type: "input", id: 4, chunk: new Uint8Array([1, 2]) },
    { type: "input-end", id: 4 },
    { type: "cancel", id: -40 },
    { type: "cancel", id: 200 },
    { type: "cancel", id: -300 },
    { type: "cancel", id: 70_000 },
    { type: "cancel", id: -70_000 },
    { type: "ping", id: 1.5 },
  ];
  for (const m of messages) {
    const frame = liteEncode(m);
    assertEquals(new DataView(frame.buffer).getUint32(0), frame.length - 4);
    assertEquals(decodeFrameBody(frame.subarray(4)), m);
    // The smallest encoding, as msgpackr writes it, for the common frames.
    if (m.type !== "ping" && m.type !== "call") assertEquals(frame, new Uint8Array(encodeFrame(m)));
  }
  assertEquals(liteEncode(messages[0]!), new Uint8Array(encodeFrame(messages[0]!)));
});

Deno.test("msgpack lite: a bad frame is BAD_REQUEST with the codec's words", () => {
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array([0x93, 1, 2]), /^Undecodable msgpack frame: /],
    [new Uint8Array([0xc1]), /^Undecodable msgpack frame: 0xc1 is not a msgpack value/],
    [
      new Uint8Array([0x80, 0x80]),
      /^Undecodable msgpack frame: Expected one msgpack value, found more bytes/,
    ],
    [new Uint8Array([0x92, 1, 2]), /^A frame must be a msgpack map with a type field$/],
    [new Uint8Array([0x81, 0xa1, 0x61, 0xd4, 0x01, 0x00]), /^Undecodable msgpack frame: /],
  ];
  for (const [body, message] of cases) {
    const err = assertThrows(() => liteDecode(body), SockdError);
    assertEquals(err.status, 102);
    assertMatch(err.message, message);
    assertThrows(() => decodeFrameBody(body), SockdError);
  }
});
