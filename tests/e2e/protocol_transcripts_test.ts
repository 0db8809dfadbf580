/**
 * Every transcript in PROTOCOL.md, replayed against `sockd serve -p
 * examples/cmds`: the text ones (`$ printf '...' | nc -NU app.sock`) must
 * print exactly what the document shows, the JSON lines ones (`→`/`←`) must
 * answer each id exactly as shown. (The msgpack byte dumps are replayed by
 * tests/e2e/clients_test.ts.)
 */
import { assert, assertEquals } from "../assert.ts";
import { ROOT, startServer, tempDir } from "../_helpers.ts";

const WAIT_MS = 10_000;

interface Transcript {
  at: number;
  lines: string[];
}

function transcripts(doc: string): Transcript[] {
  const out: Transcript[] = [];
  const lines = doc.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith("```")) continue;
    const end = lines.indexOf("```", i + 1);
    assert(end > i, `PROTOCOL.md line ${i + 1}: a code block that does not end`);
    const body = lines.slice(i + 1, end);
    if (body[0]?.startsWith("$ printf ") || body.some((l) => l.startsWith("→ "))) {
      out.push({ at: i + 2, lines: body });
    }
    i = end;
  }
  return out;
}

/** Reads everything until the server closes; `onLine` sees each complete line as it comes. */
async function readAll(conn: Deno.UnixConn, onLine?: (line: string) => void): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  const timer = setTimeout(() => conn.close(), WAIT_MS);
  try {
    for await (const chunk of conn.readable) {
      const before = text.length;
      text += decoder.decode(chunk, { stream: true });
      if (onLine) {
        for (const line of text.slice(text.lastIndexOf("\n", before - 1) + 1).split("\n").slice(0, -1)) {
          onLine(line);
        }
      }
    }
  } catch {
    /* closed at the deadline */
  } finally {
    clearTimeout(timer);
  }
  return text;
}

/** printf's own escapes, as the transcripts use them. */
function printf(format: string): string {
  return format.replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c);
}

async function replayText(path: string, t: Transcript) {
  const m = /^\$ printf '(.*)' \| nc -NU app\.sock$/.exec(t.lines[0]!);
  assert(m, `line ${t.at}: not a "$ printf '...' | nc -NU app.sock" line`);
  const conn = await Deno.connect({ transport: "unix", path });
  await conn.write(new TextEncoder().encode(printf(m[1]!)));
  await conn.closeWrite();
  const got = await readAll(conn);
  // Code blocks cannot show the prompt's trailing space before the end of the output.
  const shown = got.endsWith("\n") ? got : got.replace(/ $/, "") + "\n";
  assertEquals(
    shown,
    t.lines.slice(1).join("\n") + "\n",
    `transcript at line ${t.at}`,
  );
}

async function replayJson(path: string, t: Transcript) {
  const conn = await Deno.connect({ transport: "unix", path });
  const expected: Record<string, unknown>[] = [];
  const got: Record<string, unknown>[] = [];
  let waiter: { count: number; resolve: () => void } | undefined;
  const reading = readAll(conn, (line) => {
    got.push(JSON.parse(line));
    if (waiter && got.length >= waiter.count) waiter.resolve();
  });
  for (const line of t.lines) {
    if (line.startsWith("← ")) expected.push(JSON.parse(line.slice(2)));
    if (!line.startsWith("→ ")) continue;
    // A request shown after answers is sent once those answers have come (a cancel after two ticks).
    if (got.length < expected.length) {
      await new Promise<void>((resolve) => waiter = { count: expected.length, resolve });
    }
    await conn.write(new TextEncoder().encode(line.slice(2) + "\n"));
  }
  await conn.closeWrite();
  await reading;
  const byId = (events: Record<string, unknown>[]) => Map.groupBy(events, (e) => JSON.stringify(e.id));
  assertEquals(byId(got), byId(expected), `transcript at line ${t.at}`);
}

Deno.test("protocol transcripts: every PROTOCOL.md transcript replays against the example plugins", async () => {
  const doc = await Deno.readTextFile(`${ROOT}PROTOCOL.md`);
  const all = transcripts(doc);
  assertEquals(all.length, 5, "text: prompt, piped, framed; JSON lines: interleaved, cancel");
  await using tmp = await tempDir();
  await using server = await startServer(`${tmp.dir}/app.sock`, ["-p", `${ROOT}examples/cmds`]);
  for (const t of all) {
    if (t.lines[0]!.startsWith("$ ")) await replayText(server.path, t);
    else await replayJson(server.path, t);
  }
});
