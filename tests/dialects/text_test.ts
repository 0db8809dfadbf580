import { decodeStream, type Dialect, type Event, type Request } from "../../lib/dialects/dialect.ts";
import { TEXT_PROMPT, textDialect } from "../../lib/dialects/text.ts";
import { Status } from "../../lib/errors.ts";
import { resolveLimits } from "../../lib/limits.ts";
import { assert, assertEquals } from "../assert.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function create(maxLineBytes = 64): Dialect {
  return textDialect.create({
    limits: resolveLimits({ maxLineBytes }),
    hello: { name: "sockd", version: "test" },
  });
}

async function decodeAll(dialect: Dialect, ...chunks: (string | Uint8Array)[]): Promise<Request[]> {
  async function* source() {
    for (const c of chunks) yield typeof c === "string" ? enc.encode(c) : c;
  }
  const out: Request[] = [];
  for await (const r of decodeStream(dialect.decoder(), source())) out.push(r);
  return out;
}

function render(dialect: Dialect, events: Event[]): string {
  return events.map((e) => dec.decode(dialect.encode(e))).join("");
}

const ok = (id: number, result?: unknown): Event => ({ type: "end", id, status: 0, result });

Deno.test("text dialect: detected as the fallback for any first byte", () => {
  for (const b of [0x00, 0x7b, 0x70, 0xff, 0x0a]) assert(textDialect.matches(b));
  const d = create();
  assertEquals([d.name, d.concurrent, d.greeting?.()], ["text", false, undefined]);
});

Deno.test("text dialect: each line is a call with its quoted words, in order", async () => {
  const reqs = await decodeAll(
    create(),
    `echo "a b" 'c'\r\n`,
    "ping\n",
    "\n",
    "   \n",
    "# a comment\n",
    "help echo",
  );
  assertEquals(reqs, [
    { type: "call", id: 1, command: "echo", args: ["a b", "c"] },
    { type: "call", id: 2, command: "ping", args: [] },
    { type: "call", id: 3, command: "help", args: ["echo"] },
  ]);
});

Deno.test("text dialect: quit stops decoding; oneshot is one call then quit", async () => {
  assertEquals(await decodeAll(create(), "ping\nquit\nping\n"), [
    { type: "call", id: 1, command: "ping", args: [] },
    { type: "quit" },
  ]);
  assertEquals(await decodeAll(create(), "oneshot echo hi\nping\n"), [
    { type: "call", id: 1, command: "echo", args: ["hi"] },
    { type: "quit" },
  ]);
  const bare = await decodeAll(create(), "oneshot\nping\n");
  assertEquals(bare.map((r) => r.type), ["error", "quit"]);
  assert(bare[0]!.type === "error" && bare[0]!.status === Status.BAD_ARGS);
});

Deno.test("text dialect: bad quoting and bad UTF-8 are 102, an over-long line 108, and decoding goes on", async () => {
  const reqs = await decodeAll(
    create(16),
    `echo "open\n`,
    new Uint8Array([0x65, 0xff, 0xfe, 0x0a]),
    "echo " + "x".repeat(40) + "\n",
    "ping\n",
  );
  assertEquals(reqs.map((r) => r.type === "error" ? [r.status, r.fatal] : r.type), [
    [Status.BAD_REQUEST, false],
    [Status.BAD_REQUEST, false],
    [Status.TOO_LARGE, false],
    "call",
  ]);
  assert(reqs[2]!.type === "error" && reqs[2]!.message.includes("limit of 16 bytes"));
});

Deno.test("text dialect: chunks as-is, structured values as JSON lines, a string result as a line", () => {
  const d = create();
  assertEquals(
    render(d, [
      { type: "data", id: 1, chunk: "partial " },
      { type: "data", id: 1, chunk: "line\n" },
      { type: "data", id: 1, chunk: { a: [1, "b"], bin: new Uint8Array([1, 2]) } },
      { type: "data", id: 1, chunk: enc.encode("raw\n") },
      ok(1, "done"),
      ok(2, "two\n"),
      ok(3, { n: 3 }),
      ok(4, 42),
      ok(5),
      ok(6, null),
      ok(7, ""),
    ]),
    'partial line\n{"a":[1,"b"],"bin":{"$base64":"AQI="}}\nraw\ndone\ntwo\n{"n":3}\n42\n\n',
  );
});

Deno.test("text dialect: text output is ended with a newline, bytes are left as they are", () => {
  assertEquals(render(create(), [{ type: "data", id: 1, chunk: "no newline" }, ok(1)]), "no newline\n");
  assertEquals(
    render(create(), [{ type: "data", id: 1, chunk: new Uint8Array([0, 1]) }, ok(1), ok(2)]),
    "\0\x01",
  );
  assertEquals(
    render(create(), [{ type: "data", id: 1, chunk: new Uint8Array([0x41]) }, ok(1, "result")]),
    "A\nresult\n",
  );
});

Deno.test("text dialect: an error is one line with its status, on a line of its own", () => {
  const d = create();
  assertEquals(
    render(d, [
      { type: "end", id: 1, status: 101, error: 'Unknown command "pnig" (did you mean "ping"?)' },
      { type: "data", id: 2, chunk: "half a line" },
      { type: "end", id: 2, status: 105, error: "Boom\non two lines" },
      { type: "end", id: null, status: 102 },
    ]),
    'error 101: Unknown command "pnig" (did you mean "ping"?)\nhalf a line\nerror 105: Boom on two lines\n' +
      "error 102: Call failed\n",
  );
});

Deno.test("text dialect: prompt mode ends every answer with an empty line and the prompt", async () => {
  const d = create();
  const reqs = await decodeAll(d, "prompt\n");
  assertEquals(reqs.length, 1);
  const ping = reqs[0]!;
  assert(ping.type === "ping");
  assertEquals(render(d, [{ type: "pong", id: ping.id }]), TEXT_PROMPT);
  assertEquals(render(d, [ok(1, "pong")]), `pong\n\n${TEXT_PROMPT}`);
  assertEquals(render(d, [{ type: "data", id: 2, chunk: "x" }, ok(2)]), `x\n\n${TEXT_PROMPT}`);
  assertEquals(
    render(d, [{ type: "end", id: 3, status: 101, error: "No" }]),
    `error 101: No\n\n${TEXT_PROMPT}`,
  );
  // A blank line shows the prompt again; `prompt` toggles it off, and then blank lines say nothing.
  // (The session writes each answer before it reads the next line, so decode a line at a time.)
  const pong = async (line: string) => {
    const reqs = await decodeAll(d, line);
    return reqs.map((r) => r.type === "ping" ? render(d, [{ type: "pong", id: r.id }]) : r.type);
  };
  assertEquals(await pong("\n"), [TEXT_PROMPT]);
  assertEquals(await pong("prompt\n"), [""]);
  assertEquals(await pong("\n"), []);
});

Deno.test("text dialect: prompt on/off sets the mode; other words are a usage error", async () => {
  const d = create();
  const reqs = await decodeAll(d, "prompt on\nprompt on\n");
  assertEquals(reqs.map((r) => r.type), ["ping", "ping"]);
  assertEquals(render(d, [ok(1, "x")]), `x\n\n${TEXT_PROMPT}`);
  await decodeAll(d, "prompt off\n");
  assertEquals(render(d, [ok(2, "y")]), "y\n");
  const badReq = await decodeAll(d, "prompt maybe\n");
  assert(badReq[0]!.type === "error" && badReq[0]!.status === Status.BAD_ARGS);
});

Deno.test("text dialect: a pong that is not its own prompt ping writes nothing", () => {
  const d = create();
  assertEquals(d.encode({ type: "pong", id: 1 }).length, 0);
});

Deno.test("text dialect: the lines of one read decode alike whether the read is ASCII or not", () => {
  const dialect = textDialect.create({
    limits: resolveLimits({ maxLineBytes: 256 }),
    hello: { name: "s", version: "t" },
  });
  const decoder = dialect.decoder();
  const take = (bytes: Uint8Array) => {
    decoder.push(bytes);
    const out: unknown[] = [];
    for (let r = decoder.next(); r !== undefined; r = decoder.next()) {
      out.push(r.type === "call" ? [r.command, r.args] : r.type === "error" ? [r.status, r.message] : r.type);
    }
    return out;
  };
  const enc = new TextEncoder();
  assertEquals(take(enc.encode("a x\n  # note\nb 'y z'\n")), [["a", ["x"]], ["b", ["y z"]]]);
  // A view into a larger buffer (as the session's read buffer is).
  assertEquals(take(enc.encode("--c 1\nd\n").subarray(2)), [["c", ["1"]], ["d", []]]);
  assertEquals(take(enc.encode("a é\n\u00a0# note\nb\n")), [["a", ["é"]], ["b", []]]);
  assertEquals(take(new Uint8Array([...enc.encode("a\n"), 0xc3, 0x28, 0x0a, ...enc.encode("b\n")])), [
    ["a", []],
    [Status.BAD_REQUEST, "Line is not valid UTF-8"],
    ["b", []],
  ]);
});
