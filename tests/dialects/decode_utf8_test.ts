import { decodeUtf8 } from "../../lib/dialects/_line_decoder.ts";
import { textDialect } from "../../lib/dialects/text.ts";
import { decodeStream, type Request } from "../../lib/dialects/dialect.ts";
import { Status } from "../../lib/errors.ts";
import { resolveLimits } from "../../lib/limits.ts";
import { assert, assertEquals } from "../assert.ts";

const fatal = new TextDecoder("utf-8", { fatal: true });
const enc = new TextEncoder();

/** What a fatal TextDecoder makes of `bytes`: its string, or "throws". */
function reference(bytes: Uint8Array): string {
  try {
    return fatal.decode(bytes);
  } catch {
    return "throws";
  }
}

function ours(bytes: Uint8Array): string {
  try {
    return decodeUtf8(bytes);
  } catch {
    return "throws";
  }
}

Deno.test("decodeUtf8: the string (or the error) a fatal TextDecoder gives, on both sides of the short-line limit", () => {
  const cases: Uint8Array[] = [
    new Uint8Array(0),
    enc.encode("ping"),
    new Uint8Array([0x00, 0x7f, 0x09, 0x20]),
    enc.encode("é"),
    enc.encode("echo €😀"),
    new Uint8Array([0xef, 0xbb, 0xbf, 0x70, 0x69, 0x6e, 0x67]), // a BOM, which TextDecoder drops
    new Uint8Array([0x65, 0xff, 0xfe]),
    new Uint8Array([0x80]),
    new Uint8Array([0x65, 0xc3]), // cut in the middle of a sequence
    new Uint8Array([0xed, 0xa0, 0x80]), // an encoded surrogate
    new Uint8Array([0xc0, 0xaf]), // an over-long encoding
  ];
  for (const n of [63, 64, 65, 200]) {
    cases.push(enc.encode("a".repeat(n)));
    cases.push(enc.encode("a".repeat(n - 2) + "é"));
    cases.push(new Uint8Array([...enc.encode("a".repeat(n - 1)), 0xff]));
  }
  for (const bytes of cases) {
    // A view into a larger buffer, as lines are.
    const buf = new Uint8Array(bytes.length + 8).fill(0x41);
    buf.set(bytes, 3);
    const view = buf.subarray(3, 3 + bytes.length);
    assertEquals(ours(view), reference(bytes), `bytes ${Array.from(bytes).join(",")}`);
  }
  assert(reference(new Uint8Array([0x80])) === "throws");
});

Deno.test("text dialect: a short line with bad UTF-8 is still 102; a short non-ASCII line is its characters", async () => {
  const dialect = textDialect.create({ limits: resolveLimits({}), hello: { name: "sockd", version: "t" } });
  async function* source() {
    yield new Uint8Array([0x65, 0xc3, 0x0a]);
    yield enc.encode("echo é\n");
  }
  const reqs: Request[] = [];
  for await (const r of decodeStream(dialect.decoder(), source())) reqs.push(r);
  assert(reqs[0]!.type === "error" && reqs[0]!.status === Status.BAD_REQUEST);
  assertEquals(reqs[0]!.message, "Line is not valid UTF-8");
  assertEquals(reqs[1], { type: "call", id: 1, command: "echo", args: ["é"] });
});
