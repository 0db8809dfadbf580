/**
 * `upgrade` keeps the clients' connections: real `sockd serve` processes,
 * real sockets, a `socat` text client and msgpack clients (lib/client.ts)
 * that stay connected while the server process is replaced.
 */
import { type Client, connect } from "../../lib/client.ts";
import type { Chunk, ServerStatus } from "../../lib/command.ts";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { MOVED_WITH_INPUT } from "../../lib/_session_calls.ts";
import { type SockdError, Status } from "../../lib/errors.ts";
import { ROOT, startServer, tempDir, waitFor } from "../_helpers.ts";
import { callOnce, pidAt, stopAt } from "./_upgrade_kit.ts";

/** A plugin whose state counts its calls: every increment must reach the last process. */
const COUNTER = `export default {
  name: "bump", summary: "Count calls in the plugin state", access: "read",
  run(ctx) { const n = (ctx.state.get("n") ?? 0) + 1; ctx.state.set("n", n); return n; },
};`;

async function pluginDir(dir: string): Promise<string> {
  const plugins = `${dir}/cmds`;
  await Deno.mkdir(plugins);
  await Deno.writeTextFile(`${plugins}/bump.ts`, COUNTER);
  for (const f of ["ticker.ts", "notes.ts"]) {
    await Deno.copyFile(`${ROOT}examples/cmds/${f}`, `${plugins}/${f}`);
  }
  return plugins;
}

async function upgrade(path: string): Promise<number> {
  const answer = await callOnce(path, "upgrade") as { upgraded: boolean; pid: number };
  assertEquals(answer.upgraded, true);
  return answer.pid;
}

/** The lines a child writes to stdout, as they come. */
function lines(stream: ReadableStream<Uint8Array>): { all: string[]; ended: Promise<void> } {
  const all: string[] = [];
  const ended = (async () => {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      rest += text;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      all.push(...parts);
    }
    if (rest) all.push(rest);
  })();
  return { all, ended };
}

Deno.test("upgrade: a socat ticker and a msgpack stream stay connected over three upgrades, one marker each", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/a.sock`;
  const plugins = await pluginDir(tmp.dir);
  await using first = await startServer(path, ["--plugins", plugins]);
  const socat = new Deno.Command("socat", {
    args: ["-", `UNIX-CONNECT:${path}`],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const text = lines(socat.stdout);
  let socatExited = false;
  socat.status.then(() => socatExited = true);
  let client: Client | undefined;
  try {
    const writer = socat.stdin.getWriter();
    await writer.write(new TextEncoder().encode("ticker --every 50\n"));
    client = await connect(path, { timeoutMs: 5000 });
    let clientClosed = false;
    client.closed.then(() => clientClosed = true);
    const chunks: Chunk[] = [];
    const stream = client.call("ticker", ["--every", "50"]);
    const following = (async () => {
      for await (const chunk of stream) chunks.push(chunk);
    })();
    following.catch(() => {});
    await waitFor(() => text.all.length >= 2 && chunks.length >= 2, 10_000, "both streams ticking");
    const pids = [await pidAt(path)];
    for (let i = 0; i < 3; i++) {
      const pid = await upgrade(path);
      pids.push(pid);
      assertEquals(await pidAt(path), pid, "status shows the new process");
      const marker = JSON.stringify({ $upgraded: pid });
      // Each stream goes on in the new process: its marker, then ticks again.
      await waitFor(
        () =>
          text.all.slice(text.all.indexOf(marker) + 1).some((l) => l.startsWith("tick")) &&
          text.all.includes(marker) &&
          chunks.findIndex((c) => JSON.stringify(c) === marker) >= 0 &&
          chunks.slice(chunks.findIndex((c) => JSON.stringify(c) === marker) + 1).length > 0,
        15_000,
        `both streams going on in process ${pid}`,
      );
    }
    assertEquals(new Set(pids).size, 4, `four processes in turn: ${pids.join(", ")}`);
    const textMarkers = text.all.filter((l) => l.startsWith('{"$upgraded"'));
    const msgMarkers = chunks.filter((c) => typeof c === "object" && c !== null && "$upgraded" in c);
    const expected = pids.slice(1).map((pid) => JSON.stringify({ $upgraded: pid }));
    assertEquals(textMarkers, expected, "one marker per upgrade on the text connection");
    assertEquals(
      msgMarkers.map((c) => JSON.stringify(c)),
      expected,
      "one marker per upgrade on the msgpack one",
    );
    for (const l of text.all.filter((l) => !l.startsWith('{"$upgraded"'))) {
      assertMatch(l, /^tick \d\d:\d\d:\d\d$/);
    }
    assert(!clientClosed && !stream.ended, "the msgpack client's connection and stream are still open");
    assert(!socatExited, "socat is still connected");
    console.log(
      `three upgrades, pids ${pids.join(" -> ")}: text lines ${text.all.length}, ` +
        `text markers ${textMarkers.length}, msgpack chunks ${chunks.length}, msgpack markers ${msgMarkers.length}`,
    );
    await writer.close();
  } finally {
    client?.close();
    try {
      socat.kill("SIGTERM");
    } catch { /* ended */ }
    await socat.status;
    await text.ended.catch(() => {});
    await stopAt(path);
    await first.process.status;
  }
});

Deno.test("upgrade: 8 clients keep calling across 5 upgrades: no call fails, no connection drops, plugin state kept", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/a.sock`;
  const plugins = await pluginDir(tmp.dir);
  await using first = await startServer(path, ["--plugins", plugins]);
  const clients: Client[] = [];
  let ok = 0;
  let failed = 0;
  let dropped = 0;
  let stop = false;
  const errors: string[] = [];
  try {
    assertEquals(await callOnce(path, "note", ["kept", "across", "upgrades"]), "noted (1)");
    for (let i = 0; i < 8; i++) {
      const c = await connect(path, { timeoutMs: 5000 });
      c.closed.then(() => {
        if (!stop) dropped++;
      });
      clients.push(c);
    }
    // Each client calls on its one connection all along; it never reconnects.
    const workers = clients.map(async (c) => {
      while (!stop) {
        try {
          await c.call("bump", [], { timeoutMs: 20_000 }).result;
          ok++;
        } catch (err) {
          failed++;
          if (errors.length < 5) errors.push((err as Error).message);
          if (stop || dropped > 0) return;
        }
      }
    });
    const pids = [await pidAt(path)];
    for (let i = 0; i < 5; i++) {
      const before = ok;
      await waitFor(() => ok >= before + 200 || failed > 0, 20_000, "calls between upgrades");
      pids.push(await upgrade(path));
    }
    const before = ok;
    await waitFor(() => ok >= before + 200 || failed > 0, 20_000, "calls after the upgrades");
    stop = true;
    await Promise.all(workers);
    const last = await callOnce(path, "bump");
    const notes = await callOnce(path, "notes");
    console.log(
      `8 clients, 5 upgrades (pids ${pids.join(" -> ")}): calls ${ok}, failed ${failed}, ` +
        `dropped connections ${dropped}, last bump ${last}, notes ${JSON.stringify(notes)}`,
    );
    assertEquals(failed, 0, `calls failed: ${errors.join("; ")}`);
    assertEquals(dropped, 0, "connections dropped");
    assert(ok >= 1000, `at least 1,000 calls (${ok})`);
    assertEquals(new Set(pids).size, 6, `six processes in turn: ${pids.join(", ")}`);
    // Every call's increment reached the last process, whichever process ran it.
    assertEquals(last, ok + 1);
    assertEquals(notes, "1. kept across upgrades");
  } finally {
    stop = true;
    for (const c of clients) c.close();
    await stopAt(path);
    await first.process.status;
  }
});

/** A persistent command that streams its input back. */
const ECHO_INPUT = `export default {
  name: "echo-in", summary: "Echo input", access: "read", persistent: true, input: true,
  async *run(ctx) { for await (const chunk of ctx.input) yield chunk; },
};`;

Deno.test("upgrade: a persistent call reading input ends at once with 106 and the reason; its connection moves", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/a.sock`;
  const plugins = await pluginDir(tmp.dir);
  await Deno.writeTextFile(`${plugins}/echo_in.ts`, ECHO_INPUT);
  await using first = await startServer(path, ["--plugins", plugins]);
  const client = await connect(path, { timeoutMs: 5000 });
  try {
    const input = new TransformStream<Uint8Array, Uint8Array>();
    const writer = input.writable.getWriter();
    const call = client.call("echo-in", [], { input: input.readable });
    const chunks: unknown[] = [];
    const reading = (async () => {
      for await (const c of call) chunks.push(c);
    })();
    reading.catch(() => {});
    await writer.write(new TextEncoder().encode("one"));
    await waitFor(() => chunks.length >= 1, 10_000, "the echo of the first input");
    const started = performance.now();
    const pid = await upgrade(path);
    const err = await call.result.then(() => undefined, (e: SockdError) => e);
    const waited = performance.now() - started;
    assert(err, "the call ends with an error");
    assertEquals(err.status, Status.CANCELLED);
    assertEquals(err.message, MOVED_WITH_INPUT);
    // At the move, not after the drain gives up (drainTimeoutMs is 5 s by default).
    assert(waited < 4000, `ended ${Math.round(waited)} ms after the upgrade began`);
    // The connection itself moved and serves on.
    assertEquals((await client.call("status").result as ServerStatus).pid, pid);
    writer.close().catch(() => {});
  } finally {
    client.close();
    await stopAt(path);
    await first.process.status;
  }
});

Deno.test("upgrade: a persistent call whose input ended empty follows its connection (sockd call offers stdin to every call)", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/a.sock`;
  const plugins = await pluginDir(tmp.dir);
  await using first = await startServer(path, ["--plugins", plugins]);
  const client = await connect(path, { timeoutMs: 5000 });
  try {
    // An input of no bytes: input: true, then input-end at once, as `sockd call ticker < /dev/null` sends.
    const call = client.call("ticker", ["--every", "50"], { input: "" });
    const chunks: Chunk[] = [];
    const following = (async () => {
      for await (const c of call) chunks.push(c);
    })();
    following.catch(() => {});
    await waitFor(() => chunks.length >= 2, 10_000, "the ticker ticking");
    const pid = await upgrade(path);
    const marker = JSON.stringify({ $upgraded: pid });
    await waitFor(
      () => {
        const at = chunks.findIndex((c) => JSON.stringify(c) === marker);
        return at >= 0 && chunks.length > at + 1;
      },
      15_000,
      `the ticker going on in process ${pid}`,
    );
    assert(!call.ended, "the call follows; it did not end with 106");
  } finally {
    client.close();
    await stopAt(path);
    await first.process.status;
  }
});

/** A plugin whose host the test looks into. */
const PLAIN = `export default { name: "plain", summary: "Nothing", access: "read", run: () => "ok" };`;

/** The sockets process `pid` holds, by inode (its /proc/PID/fd, read by `ls`: Deno reads them only with all permissions). */
async function socketsOf(pid: number): Promise<Set<string>> {
  const out = await new Deno.Command("sh", { args: ["-c", `ls -l /proc/${pid}/fd`], stderr: "null" })
    .output();
  return new Set(new TextDecoder().decode(out.stdout).match(/socket:\[\d+\]/g) ?? []);
}

/** The pid of the host of plugin file `name` (after starting it with a call). */
async function hostPid(path: string, name: string, command: string): Promise<number> {
  await callOnce(path, command);
  const list = await callOnce(path, "plugins", ["--json"]) as { file: string; pid?: number }[];
  const pid = list.find((p) => p.file.endsWith(`/${name}`))?.pid;
  assert(pid, `${name} has a host process`);
  return pid;
}

Deno.test("upgrade: plugin hosts hold none of the server's sockets (listener, clients), before and after an upgrade", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/a.sock`;
  const plugins = `${tmp.dir}/cmds`;
  await Deno.mkdir(plugins);
  await Deno.writeTextFile(`${plugins}/plain.ts`, PLAIN);
  await using first = await startServer(path, ["--plugins", plugins]);
  const conns: Deno.UnixConn[] = [];
  const enc = new TextEncoder();
  let version = 0;
  /**
   * The sockets a plain.ts host started now (a reload starts a new one) shares with its server: the
   * same socket in both is one the host inherited (a listener, a client's connection). Its own
   * channel to the server is a socket pair, a different socket at each end.
   */
  const shared = async () => {
    await Deno.writeTextFile(`${plugins}/plain.ts`, PLAIN + `\n// ${++version}\n`);
    await callOnce(path, "reload");
    const host = await socketsOf(await hostPid(path, "plain.ts", "plain"));
    const server = await socketsOf(await pidAt(path));
    return [...host].filter((s) => server.has(s)).length;
  };
  try {
    const alone = await shared();
    // Eight connections a hostile plugin could otherwise write into (or read) by descriptor.
    for (let i = 0; i < 8; i++) {
      const conn = await Deno.connect({ transport: "unix", path });
      await conn.write(enc.encode("ping\n"));
      await conn.read(new Uint8Array(16));
      conns.push(conn);
    }
    const withClients = await shared();
    // And in a successor, whose connections came over the upgrade channel.
    await upgrade(path);
    // Once the eight have moved (they come after the answer).
    await waitFor(
      async () => (await callOnce(path, "status") as ServerStatus).connections >= 9,
      10_000,
      "the connections to move",
    );
    const afterUpgrade = await shared();
    console.log(
      `sockets a host shares with its server: ${alone} alone, ${withClients} with 8 clients, ` +
        `${afterUpgrade} after an upgrade`,
    );
    // Not the listening socket (node:net makes it without close-on-exec), not a client's connection.
    assertEquals([alone, withClients, afterUpgrade], [0, 0, 0]);
  } finally {
    for (const c of conns) c.close();
    await stopAt(path);
    await first.process.status;
  }
});
