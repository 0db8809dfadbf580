import { connect } from "../lib/client.ts";
import type { Command } from "../lib/command.ts";
import { decode } from "../lib/codec.ts";
import { FrameDecoder } from "../lib/dialects/_frame_decoder.ts";
import { Status } from "../lib/errors.ts";
import { serve } from "../lib/server.ts";
import { assert, assertEquals, assertIncludes, assertRejects, assertStatus, caught } from "./assert.ts";
import { tempDir } from "./_helpers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const waitCmd: Command = {
  name: "wait",
  summary: "Wait for the given ms, or until cancelled",
  args: [{ name: "ms" }],
  run: (ctx) =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => resolve(`waited ${ctx.args[0]}`), Number(ctx.args[0]));
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(t);
        reject(ctx.signal.reason);
      });
    }),
};

Deno.test("server: 100 concurrent calls on one connection each get their own result", async () => {
  await using tmp = await tempDir();
  const server = await serve({ path: `${tmp.dir}/s.sock`, commands: [waitCmd] });
  const client = await connect(server.path);
  try {
    // Mixed durations so answers arrive out of order.
    const calls = Array.from({ length: 100 }, (_, i) => client.call("wait", [String((i * 7) % 20)]).result);
    const results = await Promise.all(calls);
    assertEquals(results, Array.from({ length: 100 }, (_, i) => `waited ${(i * 7) % 20}`));
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("server: a second server on the same path is refused and the first keeps serving", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/s.sock`;
  const first = await serve({ path });
  try {
    const err = await serve({ path }).then(() => undefined, (e) => e as Error);
    assert(err, "second serve should fail");
    assertIncludes(err.message, "already listening");
    const client = await connect(path);
    assertEquals(await client.call("ping").result, "pong");
    client.close();
  } finally {
    await first.close();
  }
});

Deno.test("server: a stale socket file is replaced, a regular file is not", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/s.sock`;
  // A socket file nobody listens on: bind, then close without unlinking.
  const l = Deno.listen({ transport: "unix", path });
  await Deno.link(path, `${path}.keep`);
  l.close();
  await Deno.rename(`${path}.keep`, path);
  assert((await Deno.lstat(path)).isSocket);
  const server = await serve({ path });
  const client = await connect(path);
  assertEquals(await client.call("ping").result, "pong");
  client.close();
  await server.close();

  const file = `${tmp.dir}/plain`;
  await Deno.writeTextFile(file, "precious");
  await assertRejects(() => serve({ path: file }), /not a socket/);
  assertEquals(await Deno.readTextFile(file), "precious");
});

Deno.test("server: the socket file has mode 0600 by default and is removed on close", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/s.sock`;
  const server = await serve({ path });
  assertEquals((await Deno.lstat(path)).mode! & 0o777, 0o600);
  const leftovers = [...Deno.readDirSync(tmp.dir)].map((e) => e.name);
  assertEquals(leftovers, ["s.sock"]);
  await server.close();
  await assertRejects(() => Deno.lstat(path), Deno.errors.NotFound);
});

Deno.test("server: close lets calls finish within the drain time, then cancels the rest with 106", async () => {
  await using tmp = await tempDir();
  const server = await serve({ path: `${tmp.dir}/s.sock`, commands: [waitCmd] });
  const client = await connect(server.path);
  const quick = client.call("wait", ["50"]).result;
  const slow = client.call("wait", ["10000"]).result;
  await sleep(20);
  const t0 = performance.now();
  await server.close({ drainMs: 300 });
  assertEquals(await quick, "waited 50");
  const err = await caught(slow);
  assertStatus(err, Status.CANCELLED);
  assert(performance.now() - t0 < 3000, "close should not wait for the slow call");
  client.close();
});

Deno.test("server: a plugin that fails to load is reported by file and reason; the others load", async () => {
  await using tmp = await tempDir();
  const dir = `${tmp.dir}/plugins`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(
    `${dir}/good.ts`,
    `export default { name: "good", summary: "ok", run: () => "fine" };`,
  );
  await Deno.writeTextFile(
    `${dir}/broken.ts`,
    `export default { name: "broken", summary: "x", run: ( => 1 };`,
  );
  await Deno.writeTextFile(`${dir}/nodefault.ts`, `export const x = 1;`);
  await Deno.writeTextFile(
    `${dir}/badname.ts`,
    `export default { name: "Bad Name", summary: "x", run() {} };`,
  );
  await Deno.writeTextFile(
    `${dir}/dup.ts`,
    `export default { name: "ping", summary: "mine", run: () => "not pong" };`,
  );
  await Deno.writeTextFile(`${dir}/_private.ts`, `throw new Error("must not load");`);
  await Deno.writeTextFile(`${dir}/notes.md`, `not a plugin`);
  const server = await serve({ path: `${tmp.dir}/s.sock`, plugins: [dir] });
  try {
    const byFile = new Map(server.loadFailures.map((f) => [f.file.split("/").pop(), f.error]));
    assertEquals([...byFile.keys()].sort(), ["badname.ts", "broken.ts", "dup.ts", "nodefault.ts"]);
    assertIncludes(byFile.get("nodefault.ts")!, "No default export");
    assertIncludes(byFile.get("badname.ts")!, "invalid");
    assertIncludes(byFile.get("dup.ts")!, 'Duplicate command "ping": already defined by builtin');
    const client = await connect(server.path);
    assertEquals(await client.call("good").result, "fine");
    assertEquals(await client.call("ping").result, "pong");
    client.close();
  } finally {
    await server.close();
  }
});

Deno.test("server: duplicate names across two plugin files name both files", async () => {
  await using tmp = await tempDir();
  const dir = `${tmp.dir}/plugins`;
  await Deno.mkdir(dir);
  const src = `export default { name: "same", summary: "x", run: () => 1 };`;
  await Deno.writeTextFile(`${dir}/a.ts`, src);
  await Deno.writeTextFile(`${dir}/b.ts`, src);
  const server = await serve({ path: `${tmp.dir}/s.sock`, plugins: [dir] });
  await server.close();
  assertEquals(server.loadFailures.length, 1);
  assertIncludes(server.loadFailures[0]!.file, "b.ts");
  assertIncludes(server.loadFailures[0]!.error, `${dir}/a.ts`);
});

Deno.test("server: one client sending garbage does not disturb another", async () => {
  await using tmp = await tempDir();
  const server = await serve({ path: `${tmp.dir}/s.sock`, commands: [waitCmd] });
  const good = await connect(server.path);
  try {
    const pending = good.call("wait", ["200"]).result;
    for (let i = 0; i < 20; i++) {
      const raw = await Deno.connect({ transport: "unix", path: server.path });
      // The msgpack preface, then a frame claiming 4 GiB.
      await raw.write(
        new Uint8Array([0, 0x53, 0x4f, 0x43, 0x4b, 0x44, 0, 1, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
      );
      const frames = await framesUntilClosed(raw);
      raw.close();
      assertEquals(frames.map((f) => f.type), ["hello", "end"]);
      assertEquals([frames[1]!.id, frames[1]!.status], [null, Status.TOO_LARGE]);
      assertEquals(frames[1]!.error, "Frame of 4294967295 bytes exceeds the limit of 16777216");
    }
    assertEquals(await pending, "waited 200");
    assertEquals(await good.call("ping").result, "pong");
  } finally {
    good.close();
    await server.close();
  }
});

Deno.test("server: an embedding program's command that clashes with a built-in or itself is a TypeError", async () => {
  await using tmp = await tempDir();
  const mine = (name: string): Command => ({ name, summary: "mine", run: () => 1 });
  await assertRejects(
    () => serve({ path: `${tmp.dir}/a.sock`, commands: [mine("stats")] }),
    TypeError,
    "is a built-in",
  );
  await assertRejects(
    () => serve({ path: `${tmp.dir}/a.sock`, commands: [mine("x"), mine("x")] }),
    TypeError,
    "twice",
  );
  // Without the built-ins, the name is free.
  const server = await serve({ path: `${tmp.dir}/a.sock`, commands: [mine("stats")], builtins: false });
  const client = await connect(server.path);
  assertEquals(await client.call("stats").result, 1);
  client.close();
  await server.close();
});

/** The msgpack frames the server sends until it closes the connection (at most 5 s). */
async function framesUntilClosed(conn: Deno.Conn): Promise<Record<string, unknown>[]> {
  const decoder = new FrameDecoder(1024 * 1024);
  const frames: Record<string, unknown>[] = [];
  const buf = new Uint8Array(4096);
  const timer = setTimeout(() => conn.close(), 5000);
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) return frames;
      for (const f of decoder.push(buf.subarray(0, n))) frames.push(decode(f) as Record<string, unknown>);
    }
  } finally {
    clearTimeout(timer);
  }
}
