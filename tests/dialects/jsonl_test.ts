import { decodeStream, type Dialect, type Event, type Request } from "../../lib/dialects/dialect.ts";
import { jsonlDialect } from "../../lib/dialects/jsonl.ts";
import { Status } from "../../lib/errors.ts";
import { resolveLimits } from "../../lib/limits.ts";
import { assert, assertEquals, assertIncludes } from "../assert.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function create(maxLineBytes = 256): Dialect {
  return jsonlDialect.create({
    limits: resolveLimits({ maxLineBytes }),
    hello: { name: "sockd", version: "test" },
  });
}

async function decodeAll(...chunks: (string | Uint8Array)[]): Promise<Request[]> {
  return await decodeWith(create(), ...chunks);
}

async function decodeWith(dialect: Dialect, ...chunks: (string | Uint8Array)[]): Promise<Request[]> {
  async function* source() {
    for (const c of chunks) yield typeof c === "string" ? enc.encode(c) : c;
  }
  const out: Request[] = [];
  for await (const r of decodeStream(dialect.decoder(), source())) out.push(r);
  return out;
}

function errorOf(r: Request | undefined): [unknown, number, boolean] | string {
  return r?.type === "error" ? [r.id, r.status, r.fatal] : String(r?.type);
}

function encodeOne(event: Event): unknown {
  const line = dec.decode(create().encode(event));
  assert(line.endsWith("\n") && !line.slice(0, -1).includes("\n"), `not one line: ${JSON.stringify(line)}`);
  return JSON.parse(line);
}

Deno.test("jsonl dialect: detected by a { first byte only", () => {
  assert(jsonlDialect.matches(0x7b));
  for (const b of [0x00, 0x20, 0x5b, 0x70]) assert(!jsonlDialect.matches(b));
  const d = create();
  assertEquals([d.name, d.concurrent, d.greeting?.()], ["jsonl", true, undefined]);
});

Deno.test("jsonl dialect: calls, cancels and pings become requests; ids may be numbers or strings", async () => {
  const reqs = await decodeAll(
    '{"id":1,"command":"echo","args":["a b","c"]}\n',
    '{"id":"two","command":"ping","timeout":250}\r\n',
    "\n  \n",
    '{"id":1,"cancel":true}\n',
    '{"id":9,"ping":true}',
  );
  assertEquals(reqs, [
    { type: "call", id: 1, command: "echo", args: ["a b", "c"], timeoutMs: undefined },
    { type: "call", id: "two", command: "ping", args: [], timeoutMs: 250 },
    { type: "cancel", id: 1 },
    { type: "ping", id: 9 },
  ]);
});

Deno.test("jsonl dialect: input streamed as data/end lines, or given inline", async () => {
  const reqs = await decodeAll(
    '{"id":1,"command":"wc","input":true}\n',
    '{"id":1,"data":"héllo"}\n',
    '{"id":1,"data":{"$base64":"AAH/"}}\n',
    '{"id":1,"end":true}\n',
    '{"id":2,"command":"wc","input":"inline"}\n',
  );
  assertEquals(reqs.map((r) => [r.type, "id" in r ? r.id : undefined]), [
    ["call", 1],
    ["input", 1],
    ["input", 1],
    ["input-end", 1],
    ["call", 2],
    ["input", 2],
    ["input-end", 2],
  ]);
  assert(reqs[0]!.type === "call" && reqs[0]!.input === true);
  assertEquals(reqs[1]!.type === "input" && dec.decode(reqs[1]!.chunk), "héllo");
  assertEquals(reqs[2]!.type === "input" && [...reqs[2]!.chunk], [0, 1, 255]);
  assertEquals(reqs[5]!.type === "input" && dec.decode(reqs[5]!.chunk), "inline");
});

Deno.test("jsonl dialect: malformed lines answer 102 with id null and decoding goes on", async () => {
  const reqs = await decodeAll(
    "{not json}\n",
    "[1,2]\n",
    '"just a string"\n',
    new Uint8Array([0x7b, 0xff, 0x7d, 0x0a]),
    '{"id":3,"command":"ping"}\n',
  );
  assertEquals(reqs.map(errorOf), [
    [null, Status.BAD_REQUEST, false],
    [null, Status.BAD_REQUEST, false],
    [null, Status.BAD_REQUEST, false],
    [null, Status.BAD_REQUEST, false],
    "call",
  ]);
  assert(reqs[0]!.type === "error");
  assertIncludes(reqs[0]!.message, "Malformed JSON");
});

Deno.test("jsonl dialect: a request without an id is refused with 102, not run", async () => {
  const reqs = await decodeAll('{"command":"ping"}\n', '{"id":null,"command":"ping"}\n', '{"cancel":true}\n');
  assertEquals(reqs.map(errorOf), [
    [null, Status.BAD_REQUEST, false],
    [null, Status.BAD_REQUEST, false],
    [null, Status.BAD_REQUEST, false],
  ]);
  assert(reqs[0]!.type === "error");
  assertEquals(reqs[0]!.message, 'A call needs an "id" (a number or a string)');
});

Deno.test("jsonl dialect: bad fields answer 102 for the request's id", async () => {
  const reqs = await decodeAll(
    '{"id":1,"command":7}\n',
    '{"id":2,"command":"echo","args":"hi"}\n',
    '{"id":3,"command":"echo","args":[1]}\n',
    '{"id":4,"command":"echo","timeout":-1}\n',
    '{"id":5,"command":"echo","input":42}\n',
    '{"id":6,"data":[1]}\n',
    '{"id":7}\n',
  );
  assertEquals(reqs.map(errorOf), [1, 2, 3, 4, 5, 6, 7].map((id) => [id, Status.BAD_REQUEST, false]));
});

Deno.test("jsonl dialect: an over-long line is 108 and the next line is read", async () => {
  const reqs = await decodeWith(
    create(32),
    `{"id":1,"command":"echo","args":["${"x".repeat(100)}"]}\n`,
    '{"id":2,"command":"ping"}\n',
  );
  assertEquals(reqs.map(errorOf), [[null, Status.TOO_LARGE, false], "call"]);
});

Deno.test("jsonl dialect: answers are one JSON line each, bytes as $base64", () => {
  assertEquals(encodeOne({ type: "data", id: 1, chunk: "text" }), { id: 1, data: "text" });
  assertEquals(encodeOne({ type: "data", id: "a", chunk: new Uint8Array([0, 1, 255]) }), {
    id: "a",
    data: { $base64: "AAH/" },
  });
  assertEquals(encodeOne({ type: "data", id: 1, chunk: { line: "a\nb", n: [1, 2] } }), {
    id: 1,
    data: { line: "a\nb", n: [1, 2] },
  });
  assertEquals(encodeOne({ type: "end", id: 1, status: 0, result: "pong" }), {
    id: 1,
    status: 0,
    result: "pong",
  });
  assertEquals(encodeOne({ type: "end", id: 2, status: 0 }), { id: 2, status: 0, result: null });
  assertEquals(
    encodeOne({
      type: "end",
      id: 3,
      status: 110,
      error: "Missing argument A (usage: add A B)",
      details: { usage: "add A B" },
    }),
    {
      id: 3,
      status: 110,
      error: "Missing argument A (usage: add A B)",
      name: "BAD_ARGS",
      details: { usage: "add A B" },
    },
  );
  assertEquals(encodeOne({ type: "end", id: null, status: 102, error: "Malformed JSON" }), {
    id: null,
    status: 102,
    error: "Malformed JSON",
    name: "BAD_REQUEST",
  });
  assertEquals(encodeOne({ type: "pong", id: 9 }), { id: 9, pong: true });
});

Deno.test("jsonl dialect: a result that cannot be sent is answered as a handler error (105)", () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const answer = encodeOne({ type: "end", id: 1, status: 0, result: cyclic }) as Record<string, unknown>;
  assertEquals([answer.id, answer.status, answer.name], [1, Status.HANDLER_ERROR, "HANDLER_ERROR"]);
});

Deno.test("jsonl dialect: the lines of one read decode alike whether the read is ASCII or not", async () => {
  const calls = (reqs: Request[]) => reqs.map((r) => r.type === "call" ? [r.id, r.command, r.args] : r.type);
  // All ASCII: decoded once for the whole read.
  assertEquals(calls(await decodeAll('{"id":1,"command":"a"}\n{"id":2,"command":"b","args":["x"]}\n')), [
    [1, "a", []],
    [2, "b", ["x"]],
  ]);
  // Not ASCII: each line on its own, with the same result.
  assertEquals(calls(await decodeAll('{"id":1,"command":"a"}\n{"id":2,"command":"é","args":["ü"]}\n')), [
    [1, "a", []],
    [2, "é", ["ü"]],
  ]);
  // A line that is not UTF-8 gets its own 102; the lines around it in the same read are calls.
  const bad = new Uint8Array([
    ...enc.encode('{"id":1,"command":"a"}\n{"id":2,"command":"'),
    0xff,
    ...enc.encode(
      '"}\n{"id":3,"command":"c"}\n',
    ),
  ]);
  const reqs = await decodeAll(bad);
  assertEquals(reqs.length, 3);
  assertEquals(calls([reqs[0]!, reqs[2]!]), [[1, "a", []], [3, "c", []]]);
  assertEquals(errorOf(reqs[1]), [null, Status.BAD_REQUEST, false]);
  // A read that ends inside a multi-byte character: the line completed by the next read is whole.
  const line = enc.encode('{"id":4,"command":"é"}\n');
  const cut = line.indexOf(0xc3) + 1;
  assertEquals(
    calls(await decodeAll(enc.encode('{"id":3,"command":"c"}\n'), line.subarray(0, cut), line.subarray(cut))),
    [
      [3, "c", []],
      [4, "é", []],
    ],
  );
});

Deno.test("jsonl dialect: an answer whose result repeats the last one's is what a fresh dialect writes", () => {
  const d = create();
  const results = [
    "pong",
    "pong",
    "pung",
    0,
    -0,
    0,
    NaN,
    NaN,
    null,
    undefined,
    null,
    true,
    false,
    "x".repeat(200),
    {
      a: 1,
    },
    { a: 2 },
    "pong",
    1e21,
    1e21,
    'q"uote',
    'q"uote',
    "é",
    "é",
  ];
  for (const [i, result] of results.entries()) {
    const event: Event = { type: "end", id: i % 2 ? i : `s${i}`, status: Status.OK, result };
    assertEquals(dec.decode(d.encode(event)), dec.decode(create().encode(event)), `result ${i}`);
  }
  // An error between two answers leaves the next one whole.
  const err = d.encodeText!({ type: "end", id: 5, status: Status.BAD_ARGS, error: "no" });
  assertEquals(JSON.parse(err as string).status, Status.BAD_ARGS);
  assertEquals(
    d.encodeText!({ type: "end", id: 6, status: 0, result: "é" }),
    '{"id":6,"status":0,"result":"é"}\n',
  );
});
