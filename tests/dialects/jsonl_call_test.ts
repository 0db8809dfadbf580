/**
 * The JSON lines dialect's fast path for simple calls (lib/dialects/_jsonl_call.ts)
 * against the `JSON.parse` path it stands in for: over hand-picked tricky
 * lines and generated ones, a line the fast path takes gives the very
 * request `JSON.parse` and the dialect's checks give, and the dialect
 * decodes every line (taken or not, alone or among others in one read) to
 * what the `JSON.parse` path says, errors included.
 */
import type { Request } from "../../lib/dialects/dialect.ts";
import { jsonlDialect, parsedRequests } from "../../lib/dialects/jsonl.ts";
import { simpleCall } from "../../lib/dialects/_jsonl_call.ts";
import { resolveLimits } from "../../lib/limits.ts";
import { assert, assertEquals } from "../assert.ts";
import { prng } from "../_prng.ts";

const enc = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });
const SEED = Number(Deno.env.get("SOCKD_FUZZ_SEED") ?? 0x150a);

/** What the `JSON.parse` path makes of one line's bytes (the dialect before the fast path). */
function reference(bytes: Uint8Array): Request[] {
  if (bytes.every((b) => b === 0x20 || b === 0x09 || b === 0x0d)) return [];
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return [{ type: "error", id: null, status: 102, message: "Line is not valid UTF-8", fatal: false }];
  }
  return parsedRequests(text);
}

/** The line the dialect gets when `bytes` and a newline are sent: a `\r` before the newline is dropped. */
function sent(bytes: Uint8Array): Uint8Array {
  return bytes.at(-1) === 0x0d ? bytes.subarray(0, -1) : bytes;
}

/** The dialect's requests for `lines`, sent in one read, each with a newline. */
function decodeRead(lines: Uint8Array[]): Request[] {
  const decoder = jsonlDialect.create({
    limits: resolveLimits({ maxLineBytes: 4096 }),
    hello: { name: "sockd", version: "test" },
  }).decoder();
  const read = new Uint8Array(lines.reduce((n, l) => n + l.length + 1, 0));
  let off = 0;
  for (const l of lines) {
    read.set(l, off);
    read[off + l.length] = 0x0a;
    off += l.length + 1;
  }
  decoder.push(read);
  const out: Request[] = [];
  for (let r; (r = decoder.next()) !== undefined;) out.push(r);
  return out;
}

/** Checks one line both ways; true when the fast path took it. */
function check(line: string | Uint8Array): boolean {
  const bytes = typeof line === "string" ? enc.encode(line) : line;
  const want = reference(bytes);
  const fast = simpleCall(bytes);
  const shown = JSON.stringify(typeof line === "string" ? line : Array.from(line));
  if (fast !== undefined) assertEquals([fast], want, `fast path differs on ${shown}`);
  assertEquals(decodeRead([bytes]), reference(sent(bytes)), `dialect differs on ${shown}`);
  return fast !== undefined;
}

/** Lines the fast path must take, each exactly as JSON.parse reads it. */
const TAKEN = [
  '{"id":1,"command":"ping"}',
  '{"id":0,"command":"ping"}',
  '{"id":-0,"command":"ping"}',
  '{"id":-42,"command":"x"}',
  '{"id":999999999999999,"command":"ping"}',
  '{"id":"abc","command":"ping"}',
  '{"id":"","command":""}',
  '{"command":"echo","id":7,"args":["a b","c"]}',
  '{"args":[],"command":"echo","id":7}',
  '  { "id" : 1 ,\t"command" : "echo" , "args" : [ "x" , "y" ] }  ',
  '{"id":1,"command":"ping"}\r',
  '{"id":1,"command":"a\x7f~ !#"}',
  `{"id":1,"command":"${"c".repeat(40)}","args":["${"a".repeat(300)}"]}`,
];

/** Lines it must leave to JSON.parse: not simple, or not JSON, or not a good request. */
const LEFT = [
  '{"id":1e3,"command":"ping"}',
  '{"id":1.0,"command":"ping"}',
  '{"id":1E3,"command":"ping"}',
  '{"id":01,"command":"ping"}',
  '{"id":-,"command":"ping"}',
  '{"id":- 1,"command":"ping"}',
  '{"id":+1,"command":"ping"}',
  '{"id":1234567890123456,"command":"ping"}',
  '{"id":9007199254740993,"command":"ping"}',
  `{"id":${"9".repeat(400)},"command":"ping"}`,
  '{"id":1,"id":2,"command":"ping"}',
  '{"id":1,"command":"a","command":"b"}',
  '{"id":1,"command":"a","args":["x"],"args":["y"]}',
  '{"id":1,"command":"ping","__proto__":{"x":1}}',
  '{"__proto__":1,"id":1,"command":"ping"}',
  '{"id":1,"command":"p\\u0069ng"}',
  '{"\\u0069d":1,"command":"ping"}',
  '{"id":1,"command":"a\\"b"}',
  '{"id":1,"command":"é"}',
  '{"id":1,"command":"a\tb"}',
  '{"id":1,"command":"ping"}x',
  '{"id":1,"command":"a","b"}',
  '{"id":1,"command":"a" "b"}',
  '{"id":1,"command":"ping"x}',
  '{"id":1 ,"command":"ping"',
  '{"id":1,"command":"ping"}}',
  '{"id":1,"command":"ping"},',
  '{"id":1,"command":"ping",}',
  '{"id":1,,"command":"ping"}',
  '{"id":1 "command":"ping"}',
  '{"id":1,"command":"ping"',
  '{"id":1,"command":"ping',
  '{"id":1,"command":ping}',
  '{"id":1,"command":1}',
  '{"id":null,"command":"ping"}',
  '{"id":true,"command":"ping"}',
  '{"command":"ping"}',
  '{"id":1}',
  '{"id":1,"command":"ping","args":null}',
  '{"id":1,"command":"ping","args":[1]}',
  '{"id":1,"command":"ping","args":["a",]}',
  '{"id":1,"command":"ping","args":[,"a"]}',
  '{"id":1,"command":"ping","args":"a"}',
  '{"id":1,"command":"ping","timeout":5}',
  '{"id":1,"command":"ping","input":"x"}',
  '{"id":1,"cancel":true}',
  '{"ID":1,"command":"ping"}',
  '{"id" :1,"comm and":"ping"}',
  '{"i":1,"command":"ping"}',
  '{"idx":1,"command":"ping"}',
  '{"id":1,"commands":"ping"}',
  '{"id":1,"command":"ping"}\f',
  "\ufeff" + '{"id":1,"command":"ping"}',
  "[1]",
  "null",
  "",
  "   ",
  "{",
  "{}",
];

Deno.test("jsonl fast path: takes simple calls, each exactly as JSON.parse reads it", () => {
  for (const line of TAKEN) assert(check(line), `not taken: ${JSON.stringify(line)}`);
  // -0 stays -0 (as JSON.parse reads it), and 15 digits are exact.
  const negZero = simpleCall(enc.encode('{"id":-0,"command":"ping"}'));
  assert(negZero !== undefined && Object.is(negZero.id, -0));
  assertEquals(simpleCall(enc.encode('{"id":999999999999999,"command":"p"}'))?.id, 999999999999999);
  // Strings of any length (past what a function's arguments could carry).
  const long = `{"id":1,"command":"${"c".repeat(70_000)}","args":["${"a".repeat(300_000)}","b"]}`;
  assertEquals([simpleCall(enc.encode(long))], parsedRequests(long));
});

Deno.test("jsonl fast path: leaves everything else to JSON.parse, with the same answers and errors", () => {
  for (const line of LEFT) assert(!check(line), `taken: ${JSON.stringify(line)}`);
  // Bytes that are not UTF-8, inside and outside strings.
  for (const bytes of [[0x7b, 0xff, 0x7d], [...enc.encode('{"id":1,"command":"'), 0xc3, 0x22, 0x7d]]) {
    assert(!check(new Uint8Array(bytes)));
  }
});

const KEYS = ['"id"', '"command"', '"args"', '"timeout"', '"__proto__"', '"\\u0069d"', '"Id"', '"cancel"'];
const SCALARS = [
  "0",
  "-0",
  "7",
  "-12",
  "123456789012345",
  "1234567890123456",
  "1e3",
  "2.5",
  "01",
  "true",
  "null",
  '"ping"',
  '"echo"',
  '""',
  '"a b"',
  '"\\u00e9"',
  '"\\n"',
  '"é"',
  '"tab\there"',
  '"quote\\"d"',
  '"x\x7f"',
];
const SPACE = ["", "", "", " ", "\t", "\r", "  "];

/** A line made of request-ish pieces: mostly simple calls, often with a flaw. */
function generated(rand: (n: number) => number): string {
  const pick = <T>(xs: readonly T[]) => xs[rand(xs.length)]!;
  const ws = () => pick(SPACE);
  const value = (key: string): string => {
    if (key === '"args"' && rand(4) > 0) {
      const item = () => rand(4) > 0 ? pick(['"a"', '"b c"', '""', '"-v"']) : pick(SCALARS);
      const items = Array.from({ length: rand(4) }, () => ws() + item() + ws());
      return `[${items.join(",")}]`;
    }
    if (key === '"command"' && rand(3) > 0) return pick(['"ping"', '"echo"', '"stats"']);
    if (key === '"id"' && rand(3) > 0) return String(rand(100000));
    return pick(SCALARS);
  };
  const keys = rand(3) > 0 ? ['"id"', '"command"', ...(rand(2) ? ['"args"'] : [])] : [];
  if (rand(4) === 0) keys.splice(rand(keys.length + 1), 0, pick(KEYS));
  if (rand(2)) keys.sort(() => rand(3) - 1);
  let line = ws() + "{" + keys.map((k) => `${ws()}${k}${ws()}:${ws()}${value(k)}${ws()}`).join(",") + "}" +
    ws();
  // A flaw now and then: a character dropped, changed or added.
  const flaw = rand(8);
  const at = rand(line.length + 1);
  if (flaw === 0) line = line.slice(0, at) + line.slice(at + 1);
  else if (flaw === 1) {
    line = line.slice(0, at) + pick(['"', ",", ":", "]", "}", "\\", "x", "1"]) + line.slice(at);
  }
  return line;
}

Deno.test("jsonl fast path: generated lines read alike both ways, alone and many to a read", () => {
  const rand = prng(SEED).int;
  let taken = 0;
  const lines: Uint8Array[] = [];
  for (let i = 0; i < 5000; i++) {
    const line = generated(rand);
    if (check(line)) taken++;
    lines.push(enc.encode(line));
  }
  // Both ways were exercised, and many of each (seed ${SEED}).
  assert(taken > 500 && taken < 4500, `seed ${SEED}: ${taken} of 5000 taken`);
  // Many lines to one read, ASCII or not: the text decoded for the lines left to JSON.parse is theirs.
  for (let i = 0; i < lines.length; i += 50) {
    const read = lines.slice(i, i + 50);
    assertEquals(
      decodeRead(read),
      read.flatMap((l) => reference(sent(l))),
      `seed ${SEED}, lines ${i}..${i + 49}`,
    );
  }
});
