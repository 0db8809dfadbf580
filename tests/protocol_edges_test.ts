/**
 * Edges of the protocol a client written from PROTOCOL.md alone runs into,
 * through a real socket: a body that is not msgpack closes the connection,
 * a reused id in flight is refused without a second end for the call
 * running under it.
 */
import type { Command } from "../lib/command.ts";
import { concatBytes } from "../lib/_bytes.ts";
import { decode } from "../lib/codec.ts";
import { frame } from "../lib/dialects/_frame_decoder.ts";
import { encodeFrame, MSGPACK_PREFACE } from "../lib/dialects/msgpack.ts";
import { serve } from "../lib/server.ts";
import { assertEquals, assertMatch } from "./assert.ts";
import { tempDir } from "./_helpers.ts";

const commands: Command[] = [{
  name: "wait",
  summary: "Answer 'done' once released by the release command",
  async run(ctx) {
    await new Promise<void>((resolve, reject) => {
      release = resolve;
      ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
    });
    return "done";
  },
}, {
  name: "release",
  summary: "Let the waiting call end",
  run: () => {
    release?.();
    return "ok";
  },
}];
let release: (() => void) | undefined;

async function withServer(fn: (path: string) => Promise<void>) {
  await using tmp = await tempDir();
  const server = await serve({ path: `${tmp.dir}/s.sock`, commands });
  try {
    await fn(server.path);
  } finally {
    await server.close({ drainMs: 0 });
  }
}

/** Everything the server writes until it closes (or `ms` pass). */
async function readAll(conn: Deno.UnixConn, ms = 5_000): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const timer = setTimeout(() => conn.close(), ms);
  try {
    for await (const chunk of conn.readable) parts.push(chunk);
  } catch {
    /* closed by the deadline */
  } finally {
    clearTimeout(timer);
  }
  return concatBytes(parts);
}

function frames(bytes: Uint8Array): Record<string, unknown>[] {
  const out = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  for (let off = 0; off < bytes.length;) {
    const size = view.getUint32(off);
    out.push(decode(bytes.subarray(off + 4, off + 4 + size)) as Record<string, unknown>);
    off += 4 + size;
  }
  return out;
}

Deno.test("protocol: a msgpack body of the single byte 0xc1 is answered 102 with a nil id and the connection closes", async () => {
  await withServer(async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    const ping = encodeFrame({ type: "ping", id: 9 });
    await conn.write(new Uint8Array([...MSGPACK_PREFACE, ...frame(new Uint8Array([0xc1])), ...ping]));
    // No half-close: the server must close by itself, and must not answer the ping after the bad frame.
    const got = frames(await readAll(conn));
    assertEquals(got.map((f) => [f.type, f.id ?? null, f.status]), [
      ["hello", null, undefined],
      ["end", null, 102],
    ]);
    assertMatch(String(got[1]!.error), /0xc1 is not a msgpack value/);
  });
});

Deno.test("protocol: reusing an id still in flight is refused with a nil id; the running call keeps its one end", async () => {
  await withServer(async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    const send = (o: unknown) => conn.write(new TextEncoder().encode(JSON.stringify(o) + "\n"));
    await send({ id: 1, command: "wait" });
    await send({ id: 1, command: "release" });
    await send({ id: 2, command: "release" });
    await conn.closeWrite();
    const lines = new TextDecoder().decode(await readAll(conn)).trim().split("\n").map((l) => JSON.parse(l));
    const refusal = lines.find((l) => l.id === null);
    assertEquals(refusal?.status, 102);
    assertEquals(refusal?.details, { id: 1 });
    assertMatch(refusal?.error, /^Call id 1 is already in flight \(the new call was not run\)$/);
    // Exactly one end for id 1, the waiting call's own: the refused "release" never ran.
    assertEquals(lines.filter((l) => l.id === 1), [{ id: 1, status: 0, result: "done" }]);
    assertEquals(lines.filter((l) => l.id === 2), [{ id: 2, status: 0, result: "ok" }]);
  });
});

/** Sends `lines` over a text connection, half-closes, and returns all it answers. */
async function text(path: string, lines: string): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path });
  await conn.write(new TextEncoder().encode(lines));
  await conn.closeWrite();
  return new TextDecoder().decode(await readAll(conn));
}

Deno.test("protocol: text runs `cmd1; cmd2` on one line in order; a quoted or escaped ; is a word", async () => {
  await withServer(async (path) => {
    assertEquals(await text(path, "echo a; echo b;; echo c;\n"), "a\nb\nc\n");
    assertEquals(await text(path, `echo "x;y" x\\;y 'x;y'\n`), "x;y x;y x;y\n");
    // In prompt mode the line's answers share one prompt, after the last.
    assertEquals(await text(path, "prompt on\necho a; echo b\n"), "sockd> a\nb\n\nsockd> ");
  });
});

/** What a script reads from `prompt framed` answers: each answer's lines and its end line. */
function readFramed(out: string): { lines: string[]; end: string }[] {
  const answers: { lines: string[]; end: string }[] = [];
  let lines: string[] = [];
  for (const line of out.split("\n").slice(0, -1)) {
    if (line === "." || line.startsWith(".error ")) {
      answers.push({ lines, end: line });
      lines = [];
    } else {
      lines.push(line.startsWith("..") ? line.slice(1) : line);
    }
  }
  assertEquals(lines, [], "output after the last end line");
  return answers;
}

Deno.test("protocol: in `prompt framed` mode, output that looks like a prompt, an error or an end line cannot end an answer", async () => {
  await withServer(async (path) => {
    const out = await text(
      path,
      'prompt framed\necho "sockd> x"\necho "error 105: y"\necho .\necho .error 1: z\npnig\n',
    );
    assertEquals(readFramed(out), [
      { lines: [], end: "." }, // prompt framed itself
      { lines: ["sockd> x"], end: "." },
      { lines: ["error 105: y"], end: "." },
      { lines: ["."], end: "." },
      { lines: [".error 1: z"], end: "." },
      { lines: [], end: '.error 101: Unknown command "pnig" (did you mean "ping"?)' },
    ]);
  });
});
