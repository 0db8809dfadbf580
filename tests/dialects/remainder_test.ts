/**
 * What moves with a connection on upgrade, dialect by dialect: the bytes a
 * decoder holds (a fresh decoder fed them is where the old one was), and the
 * text dialect's prompt mode.
 */
import type { Dialect, Request } from "../../lib/dialects/dialect.ts";
import { jsonlDialect } from "../../lib/dialects/jsonl.ts";
import { encodeFrame, MSGPACK_PREFACE, msgpackDialect } from "../../lib/dialects/msgpack.ts";
import { TEXT_PROMPT, textDialect } from "../../lib/dialects/text.ts";
import { resolveLimits } from "../../lib/limits.ts";
import { assert, assertEquals } from "../assert.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const limits = resolveLimits({ maxLineBytes: 16 });
const hello = { name: "sockd", version: "test" };

function drain(d: { next(): Request | undefined }): Request[] {
  const out: Request[] = [];
  let r: Request | undefined;
  while ((r = d.next()) !== undefined) out.push(r);
  return out;
}

/** Feeds `first` to one decoder, moves its remainder to a fresh one, feeds `second` there. */
function moved(dialect: () => Dialect, first: Uint8Array, second: Uint8Array): Request[] {
  const a = dialect().decoder();
  a.push(first);
  const before = drain(a);
  const rest = a.remainder!();
  assert(rest !== undefined, "a boundary once the decoded requests are taken");
  const b = dialect().decoder();
  b.push(rest);
  b.push(second);
  return [...before, ...drain(b)];
}

Deno.test("remainder: a half line moves and completes in the new decoder (text, JSON lines)", () => {
  const text = moved(() => textDialect.create({ limits, hello }), enc.encode("ping\npi"), enc.encode("ng\n"));
  assertEquals(text.map((r) => r.type === "call" && r.command), ["ping", "ping"]);
  const jsonl = moved(
    () => jsonlDialect.create({ limits: resolveLimits({}), hello }),
    enc.encode('{"id":1,"command":"ping"}\n{"id":2,"comm'),
    enc.encode('and":"ping"}\n'),
  );
  assertEquals(jsonl.map((r) => r.type === "call" && r.id), [1, 2]);
});

Deno.test("remainder: none while requests are untaken or an over-long line is being dropped", () => {
  const d = textDialect.create({ limits, hello }).decoder();
  d.push(enc.encode("ping\nping\n"));
  d.next();
  assertEquals(d.remainder!(), undefined, "one request not taken yet");
  d.next();
  assertEquals(d.remainder!()?.length, 0);
  d.push(enc.encode("x".repeat(40)));
  drain(d);
  assertEquals(d.remainder!(), undefined, "dropping an over-long line");
});

Deno.test("remainder: msgpack moves the preface seen and a split frame", () => {
  const frame = encodeFrame({ type: "call", id: 7, command: "ping", args: [] });
  const all = new Uint8Array([...MSGPACK_PREFACE, ...frame, ...frame]);
  for (const cut of [2, MSGPACK_PREFACE.length, MSGPACK_PREFACE.length + 2, MSGPACK_PREFACE.length + 9]) {
    const reqs = moved(
      () => msgpackDialect.create({ limits: resolveLimits({}), hello }),
      all.subarray(0, cut),
      all.subarray(cut),
    );
    assertEquals(reqs.map((r) => r.type === "call" && r.id), [7, 7], `cut at ${cut}`);
  }
});

Deno.test("dialect state: text's prompt mode and line position carry over to the successor's dialect", () => {
  const old = textDialect.create({ limits, hello });
  const d = old.decoder();
  d.push(enc.encode("prompt on\n"));
  drain(d);
  old.encode({ type: "data", id: 1, chunk: "half a line" });
  const next = textDialect.create({ limits, hello, resume: old.state!() });
  // The next answer ends the open line, then shows the prompt, as the old process would have.
  const out = dec.decode(next.encode({ type: "end", id: 1, status: 0 }));
  assertEquals(out, `\n\n${TEXT_PROMPT}`);
  const fresh = dec.decode(textDialect.create({ limits, hello }).encode({ type: "end", id: 1, status: 0 }));
  assertEquals(fresh, "", "without the state: no prompt");
});
