/**
 * `sockd serve` gives memory back when it goes quiet (lib/cli/_idle_memory.ts):
 * once the connections that made it grow have closed, at least half of what
 * they added comes back, as `ps` sees it. And the ffi permission it opens
 * libc with is gone before anything else runs: an inline plugin, which runs
 * in the server's own isolate, can neither see it nor open a library.
 */
import { connect } from "../../lib/client.ts";
import { assert, assertEquals } from "../assert.ts";
import { startServer, tempDir, waitFor } from "../_helpers.ts";

const COLLECTED = "Idle: gave memory back";

/** `pid`'s RSS in bytes, as `ps` reports it (another process's /proc files need --allow-all). */
async function rss(pid: number): Promise<number> {
  const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)], stdout: "piped" })
    .output();
  const kb = Number(new TextDecoder().decode(out.stdout).trim());
  assert(kb > 0, `ps gave no RSS for ${pid}`);
  return kb * 1024;
}

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

Deno.test("e2e idle memory: what closed connections added comes back", async () => {
  await using tmp = await tempDir();
  await using server = await startServer(`${tmp.dir}/a.sock`, ["--log-level", "debug"]);
  const pid = server.process.pid;
  // The start's collection.
  await waitFor(() => server.stderr().includes(COLLECTED), 10_000, "the collection after start");
  const conns: Deno.UnixConn[] = [];
  const open = async (n: number) => {
    const ping = new TextEncoder().encode("ping\n");
    const buf = new Uint8Array(64);
    for (let i = 0; i < n; i++) {
      const conn = await Deno.connect({ transport: "unix", path: server.path });
      conns.push(conn);
      await conn.write(ping);
      let got = "";
      while (!got.endsWith("pong\n")) {
        const n = await conn.read(buf);
        assert(n !== null, "the server closed a connection");
        got += new TextDecoder().decode(buf.subarray(0, n));
      }
    }
  };
  try {
    // Warm up, as the bench does: what the first connections touch once (the deno binary's code, V8's
    // compiled code) stays, whatever the server does.
    await open(50);
    for (const c of conns.splice(0)) c.close();
    await new Promise((r) => setTimeout(r, 600));
    const before = await rss(pid);
    await open(500);
    // Longer than the delay (250 ms): any collection with them open has happened.
    await new Promise((r) => setTimeout(r, 600));
    const grown = await rss(pid);
    assert(grown > before, `RSS did not grow with 500 connections (${before} -> ${grown})`);
    const collected = count(server.stderr(), COLLECTED);
    for (const c of conns.splice(0)) c.close();
    await waitFor(
      () => count(server.stderr(), COLLECTED) > collected,
      10_000,
      "the collection after the connections closed",
    );
    const after = await rss(pid);
    assert(
      after - before <= (grown - before) / 2,
      `kept ${after - before} of the ${grown - before} bytes 500 connections added`,
    );
  } finally {
    for (const c of conns) c.close();
  }
});

Deno.test("e2e idle memory: once started, the server holds no ffi permission", async () => {
  await using tmp = await tempDir();
  const plugins = `${tmp.dir}/cmds`;
  await Deno.mkdir(plugins);
  await Deno.writeTextFile(
    `${plugins}/fficheck.js`,
    `export default { name: "fficheck", summary: "The server's own ffi permission", async run() {
      const { state } = await Deno.permissions.query({ name: "ffi" });
      let dlopen;
      try { Deno.dlopen("libc.so.6", { getpid: { parameters: [], result: "i32" } }); dlopen = "opened"; }
      catch (err) { dlopen = err.name; }
      return { state, dlopen };
    } };`,
  );
  await Deno.writeTextFile(
    `${plugins}/sockd.json`,
    JSON.stringify({ plugins: { "fficheck.js": { sandbox: "inline" } } }),
  );
  await using server = await startServer(`${tmp.dir}/a.sock`, ["--plugins", plugins]);
  const client = await connect(server.path);
  try {
    const got = await client.call("fficheck").result as { state: string; dlopen: string };
    assert(got.state !== "granted", got.state);
    assertEquals(got.dlopen, "NotCapable");
  } finally {
    client.close();
  }
});
