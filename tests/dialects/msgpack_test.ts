import { decode, encode } from "../../lib/codec.ts";
import { decodeStream, type Request } from "../../lib/dialects/dialect.ts";
import { frame } from "../../lib/dialects/_frame_decoder.ts";
import { encodeFrame, MSGPACK_PREFACE, msgpackDialect } from "../../lib/dialects/msgpack.ts";
import { Status } from "../../lib/errors.ts";
import { DEFAULT_LIMITS, resolveLimits } from "../../lib/limits.ts";
import { assert, assertEquals, assertMatch } from "../assert.ts";

const dialect = (maxFrameBytes = DEFAULT_LIMITS.maxFrameBytes) =>
  msgpackDialect.create({
    limits: resolveLimits({ maxFrameBytes }),
    hello: { name: "sockd", version: "test" },
  });

async function decodeAll(chunks: Uint8Array[], maxFrameBytes?: number): Promise<Request[]> {
  const out: Request[] = [];
  async function* source() {
    for (const c of chunks) yield c;
  }
  for await (const r of decodeStream(dialect(maxFrameBytes).decoder(), source())) out.push(r);
  return out;
}

Deno.test("msgpack dialect: detected by the NUL first byte only", () => {
  assert(msgpackDialect.matches(0));
  assert(!msgpackDialect.matches("{".charCodeAt(0)));
  assert(!msgpackDialect.matches("p".charCodeAt(0)));
});

Deno.test("msgpack dialect: call, cancel, input and ping frames become requests", async () => {
  const reqs = await decodeAll([
    MSGPACK_PREFACE,
    encodeFrame({ type: "call", id: 1, command: "echo", args: ["a"], timeout: 50, input: true }),
    encodeFrame({ type: "input", id: 1, chunk: new Uint8Array([104, 105]) }),
    encodeFrame({ type: "input-end", id: 1 }),
    encodeFrame({ type: "cancel", id: "x" }),
    encodeFrame({ type: "ping", id: 7 }),
  ]);
  assertEquals(reqs[0], { type: "call", id: 1, command: "echo", args: ["a"], input: true, timeoutMs: 50 });
  assertEquals(reqs[1]!.type, "input");
  assertEquals([...(reqs[1] as { chunk: Uint8Array }).chunk], [104, 105]);
  assertEquals(reqs.slice(2), [{ type: "input-end", id: 1 }, { type: "cancel", id: "x" }, {
    type: "ping",
    id: 7,
  }]);
});

Deno.test("msgpack dialect: a malformed but decodable frame answers 102 for its id and keeps going", async () => {
  const reqs = await decodeAll([
    MSGPACK_PREFACE,
    encodeFrame({ type: "call", id: 3, args: ["no command"] }),
    encodeFrame({ type: "call", id: 4, command: "ping", args: [1, 2] }),
    encodeFrame({ type: "bogus", id: 5 }),
    encodeFrame({ type: "ping", id: 6 }),
  ]);
  assertEquals(reqs.map((r) => r.type), ["error", "error", "error", "ping"]);
  for (const [i, r] of reqs.slice(0, 3).entries()) {
    assertEquals(r.type === "error" && [r.id, r.status, r.fatal], [3 + i, Status.BAD_REQUEST, false]);
  }
});

Deno.test("msgpack dialect: undecodable msgpack is a fatal 102", async () => {
  const reqs = await decodeAll([MSGPACK_PREFACE, frame(new Uint8Array([0xc1, 0xc1, 0xc1]))]);
  assertEquals(reqs.length, 1);
  assert(reqs[0]!.type === "error" && reqs[0]!.status === Status.BAD_REQUEST && reqs[0]!.fatal);
});

Deno.test("msgpack dialect: a frame that is not a map is a fatal 102", async () => {
  const reqs = await decodeAll([MSGPACK_PREFACE, frame(encode([1, 2, 3]))]);
  assert(reqs[0]!.type === "error" && reqs[0]!.status === Status.BAD_REQUEST && reqs[0]!.fatal);
});

Deno.test("msgpack dialect: an oversized frame is a fatal 108 even before its body arrives", async () => {
  const header = new Uint8Array([0, 0, 0x10, 0]); // 4096 bytes announced
  const reqs = await decodeAll([MSGPACK_PREFACE, header], 1024);
  assertEquals(reqs.length, 1);
  assert(reqs[0]!.type === "error" && reqs[0]!.status === Status.TOO_LARGE && reqs[0]!.fatal);
});

Deno.test("msgpack dialect: a wrong preface or version is refused with 102", async () => {
  const wrong = await decodeAll([new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7])]);
  assert(wrong[0]!.type === "error" && wrong[0]!.status === Status.BAD_REQUEST && wrong[0]!.fatal);
  const v2 = MSGPACK_PREFACE.slice();
  v2[7] = 2;
  const version = await decodeAll([v2]);
  assert(version[0]!.type === "error" && /version 2/.test(version[0]!.message));
});

Deno.test("msgpack dialect: a connection that ends mid-frame is reported", async () => {
  const whole = encodeFrame({ type: "ping", id: 1 });
  const reqs = await decodeAll([MSGPACK_PREFACE, whole.subarray(0, whole.length - 1)]);
  assert(reqs[0]!.type === "error" && /inside a frame/.test(reqs[0]!.message));
});

Deno.test("msgpack dialect: the preface split across chunks is accepted", async () => {
  const reqs = await decodeAll([
    MSGPACK_PREFACE.subarray(0, 3),
    MSGPACK_PREFACE.subarray(3),
    encodeFrame({ type: "ping", id: 1 }),
  ]);
  assertEquals(reqs, [{ type: "ping", id: 1 }]);
});

Deno.test("msgpack dialect: the greeting is a hello frame with version and limits", () => {
  const hello = dialect(4096).greeting!();
  const body = hello.subarray(4);
  assertEquals(new DataView(hello.buffer, hello.byteOffset).getUint32(0), body.length);
  assertEquals(decode(body), {
    type: "hello",
    protocol: 1,
    server: "sockd",
    version: "test",
    maxFrame: 4096,
  });
});

Deno.test("msgpack dialect: a bytes chunk's header is what encodeFrame writes before the bytes", () => {
  for (const id of [1, 300, 70_000, "call-7", -5]) {
    for (const size of [0, 5, 255, 256, 65_535, 65_536, 100_000]) {
      const chunk = new Uint8Array(size).fill(7);
      const whole = encodeFrame({ type: "data", id, chunk });
      const header = dialect().dataHeader!(id, chunk);
      assertEquals([...header, ...chunk].length, whole.length);
      assertEquals([...header], [...whole.subarray(0, header.length)], `id ${id}, ${size} bytes`);
    }
  }
});

Deno.test("msgpack dialect: a body of the never-used byte 0xc1 does not decode: a fatal 102, not an unknown frame type", async () => {
  const reqs = await decodeAll([
    MSGPACK_PREFACE,
    frame(new Uint8Array([0xc1])),
    encodeFrame({ type: "ping", id: 1 }),
  ]);
  assertEquals(reqs.length, 1);
  const [req] = reqs;
  assert(req!.type === "error" && req!.status === Status.BAD_REQUEST && req!.fatal && req!.id === null);
  assertMatch(req!.message, /^Undecodable msgpack frame: 0xc1 is not a msgpack value/);
});
