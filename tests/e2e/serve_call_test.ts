/**
 * sockd serve and sockd call as real subprocesses, run exactly as
 * `deno task sockd` runs them (same entry point, same permission set).
 */
import { decode } from "../../lib/codec.ts";
import { FrameDecoder } from "../../lib/dialects/_frame_decoder.ts";
import { connect } from "../../lib/client.ts";
import { assert, assertEquals, assertIncludes } from "../assert.ts";
import { DENO, ROOT, runSockd, SOCKD_ARGS, startServer, tempDir, waitFor } from "../_helpers.ts";

async function copyExamples(dir: string): Promise<string> {
  const plugins = `${dir}/cmds`;
  await Deno.mkdir(plugins);
  for await (const e of Deno.readDir(`${ROOT}examples/cmds`)) {
    if (e.isFile && e.name.endsWith(".ts")) {
      await Deno.copyFile(`${ROOT}examples/cmds/${e.name}`, `${plugins}/${e.name}`);
    }
  }
  return plugins;
}

Deno.test("e2e: serve + call: ping, unknown command, --json, plugins, no server", async (t) => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/a.sock`;
  const plugins = await copyExamples(tmp.dir);
  await using _server = await startServer(path, ["--plugins", plugins]);

  await t.step("ping prints pong and exits 0", async () => {
    const r = await runSockd(["call", "--socket", path, "ping"]);
    assertEquals([r.code, r.stdout, r.stderr], [0, "pong\n", ""]);
  });
  await t.step("an unknown command exits 2 with one clear line", async () => {
    const r = await runSockd(["call", "--socket", path, "pnig"]);
    assertEquals(r.code, 2);
    assertEquals(r.stderr, 'sockd: unknown command "pnig" (did you mean "ping"?)\n');
    assertEquals(r.stdout, "");
  });
  await t.step("bad arguments exit 2 with the usage", async () => {
    const r = await runSockd(["call", "--socket", path, "greet", "a", "b"]);
    assertEquals(r.code, 2);
    assertIncludes(r.stderr, "usage: greet [--shout] [NAME]");
  });
  await t.step("flags after the command go to the command", async () => {
    const r = await runSockd(["call", "--socket", path, "greet", "--shout", "ops"]);
    assertEquals([r.code, r.stdout], [0, "HELLO, OPS!\n"]);
  });
  await t.step("a streaming plugin's chunks arrive, then the result", async () => {
    const r = await runSockd(["call", "--socket", path, "count", "--to", "3", "--every", "1"]);
    assertEquals([r.code, r.stdout], [0, "1\n2\n3\ncounted to 3\n"]);
  });
  await t.step("--json prints one object per event", async () => {
    const r = await runSockd(["call", "--socket", path, "--json", "count", "--to", "2", "--every", "1"]);
    assertEquals(r.stdout.trim().split("\n").map((l) => JSON.parse(l)), [
      { data: "1\n" },
      { data: "2\n" },
      { status: 0, result: "counted to 2" },
    ]);
    const bad = await runSockd(["call", "--socket", path, "--json", "nosuch"]);
    assertEquals(bad.code, 2);
    assertEquals(JSON.parse(bad.stdout), {
      status: 101,
      name: "NOT_FOUND",
      error: 'Unknown command "nosuch"',
    });
  });
  await t.step("no server exits 3 and says what to do", async () => {
    const r = await runSockd(["call", "--socket", `${tmp.dir}/none.sock`, "ping"]);
    assertEquals(r.code, 3);
    assertEquals(r.stderr, `sockd: no server at ${tmp.dir}/none.sock (is sockd serve running?)\n`);
  });
  await t.step("--help works under the sockd permission set", async () => {
    for (const args of [["--help"], ["call", "--help"], ["serve", "--help"]]) {
      const r = await runSockd(args);
      assertEquals(r.code, 0, r.stderr);
      assertIncludes(r.stdout, "Usage: sockd");
    }
  });
  await t.step("a usage error of sockd itself exits 2", async () => {
    const r = await runSockd(["call", "--socket", path]);
    assertEquals(r.code, 2);
    assertIncludes(r.stderr, "missing required argument");
  });
});

/** msgpack for {type:"call",id:1,command:"ping",args:[]}, written out by hand from the spec. */
const HAND_CALL = [
  0x84, // fixmap, 4 entries
  0xa4,
  ...new TextEncoder().encode("type"),
  0xa4,
  ...new TextEncoder().encode("call"),
  0xa2,
  ...new TextEncoder().encode("id"),
  0x01,
  0xa7,
  ...new TextEncoder().encode("command"),
  0xa4,
  ...new TextEncoder().encode("ping"),
  0xa4,
  ...new TextEncoder().encode("args"),
  0x90, // empty fixarray
];

async function readFrames(conn: Deno.Conn, count: number, ms = 5000): Promise<Record<string, unknown>[]> {
  const frames = new FrameDecoder(1 << 20);
  const out: Record<string, unknown>[] = [];
  const buf = new Uint8Array(65536);
  const deadline = Date.now() + ms;
  while (out.length < count && Date.now() < deadline) {
    const n = await conn.read(buf);
    if (n === null) break;
    for (const f of frames.push(buf.subarray(0, n))) out.push(decode(f) as Record<string, unknown>);
  }
  return out;
}

Deno.test("e2e: raw bytes: preface, a hand-encoded call, and an oversized frame", async (t) => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/a.sock`;
  await using server = await startServer(path);
  const preface = [0x00, 0x53, 0x4f, 0x43, 0x4b, 0x44, 0x00, 0x01];

  await t.step("a call written byte by byte gets hello, then end with pong", async () => {
    const conn = await Deno.connect({ transport: "unix", path });
    await conn.write(new Uint8Array([...preface, 0, 0, 0, HAND_CALL.length, ...HAND_CALL]));
    const [hello, end] = await readFrames(conn, 2);
    conn.close();
    assertEquals(hello!.type, "hello");
    assertEquals(hello!.protocol, 1);
    assertEquals(end, { type: "end", id: 1, status: 0, result: "pong" });
  });

  await t.step("a frame over 16 MiB is answered 108 and closed; another client is still served", async () => {
    const client = await connect(path);
    const conn = await Deno.connect({ transport: "unix", path });
    await conn.write(new Uint8Array([...preface, 0x01, 0x00, 0x00, 0x01])); // 16 MiB + 1
    const frames = await readFrames(conn, 3);
    assertEquals(frames.map((f) => f.type), ["hello", "end"]); // and then EOF
    assertEquals([frames[1]!.id, frames[1]!.status], [null, 108]);
    assertIncludes(String(frames[1]!.error), "exceeds the limit");
    conn.close();
    assertEquals(await client.call("echo", ["still", "here"]).result, "still here");
    client.close();
  });

  await t.step("undecodable msgpack is answered 102 and closed", async () => {
    const conn = await Deno.connect({ transport: "unix", path });
    await conn.write(new Uint8Array([...preface, 0, 0, 0, 2, 0xc1, 0xc1]));
    const frames = await readFrames(conn, 3);
    assertEquals(frames.map((f) => [f.type, f.status ?? null]), [["hello", null], ["end", 102]]);
    conn.close();
  });
  assertEquals(await server.stop("SIGTERM"), 0);
});

Deno.test("e2e: two servers cannot share one socket path", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/a.sock`;
  await using first = await startServer(path);
  const second = await new Deno.Command(DENO, {
    args: [...SOCKD_ARGS, "serve", "--socket", path],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  assertEquals(second.code, 1);
  assertIncludes(new TextDecoder().decode(second.stderr), `sockd: a server is already listening on ${path}`);
  const r = await runSockd(["call", "--socket", path, "ping"]);
  assertEquals(r.stdout, "pong\n");
  assert(first.stderr().includes("Listening"));
});

Deno.test("e2e: SIGTERM removes the socket; a new plugin file is callable after a restart", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/a.sock`;
  const plugins = `${tmp.dir}/cmds`;
  await Deno.mkdir(plugins);
  {
    await using server = await startServer(path, ["--plugins", plugins]);
    const r = await runSockd(["call", "--socket", path, "uptime"]);
    assertEquals(r.code, 2);
    assertEquals(await server.stop("SIGTERM"), 0);
    assertIncludes(server.stderr(), "Stopped");
  }
  await waitFor(async () => !(await Deno.lstat(path).then(() => true, () => false)), 2000, "socket removal");
  await Deno.writeTextFile(
    `${plugins}/uptime.ts`,
    `export default { name: "uptime", summary: "Seconds up", access: "read", run: () => "up" };`,
  );
  {
    await using server = await startServer(path, ["--plugins", plugins]);
    const r = await runSockd(["call", "--socket", path, "uptime"]);
    assertEquals([r.code, r.stdout], [0, "up\n"]);
    assertEquals(await server.stop("SIGINT"), 0);
  }
});

Deno.test("e2e: a kill -9'd server's socket is replaced by the next start", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/a.sock`;
  const first = await startServer(path);
  await first.stop("SIGKILL");
  assert((await Deno.lstat(path)).isSocket, "the killed server leaves its socket file");
  const r = await runSockd(["call", "--socket", path, "ping"]);
  assertEquals(r.code, 3);
  await using second = await startServer(path);
  assertIncludes(second.stderr(), "Removed stale socket file");
  assertEquals((await runSockd(["call", "--socket", path, "ping"])).stdout, "pong\n");
});
