/**
 * What docs/OPERATIONS.md promises about `sockd serve` as a process: where
 * it listens without --socket, what a second SIGTERM does, and its JSON
 * logs. Real subprocesses, the `sockd` permission set.
 */
import { connect } from "../../lib/client.ts";
import { isLive } from "../../lib/listener.ts";
import { assert, assertEquals, assertIncludes, assertStatus, caught } from "../assert.ts";
import { runSockd, spawnSockd, startServer, tempDir, waitFor } from "../_helpers.ts";

Deno.test("serve: without --socket: $SOCKD_SOCKET, else $XDG_RUNTIME_DIR, else $TMPDIR/sockd-UID/ made 0700", async (t) => {
  await using tmp = await tempDir();
  const xdg = `${tmp.dir}/xdg`;
  const tmpdir = `${tmp.dir}/t`;
  // $XDG_RUNTIME_DIR is trusted only when private (0700, ours), as systemd makes it.
  await Deno.mkdir(xdg, { mode: 0o700 });
  await Deno.chmod(xdg, 0o700);
  await Deno.mkdir(tmpdir);
  const perUser = `${tmpdir}/sockd-${Deno.uid()}`;
  // An empty variable counts as unset, whatever the test runner's own environment holds.
  const cases: [string, Record<string, string>, string][] = [
    [
      "SOCKD_SOCKET first",
      { SOCKD_SOCKET: `${tmp.dir}/explicit.sock`, XDG_RUNTIME_DIR: xdg, TMPDIR: tmpdir },
      `${tmp.dir}/explicit.sock`,
    ],
    ["then XDG_RUNTIME_DIR", { SOCKD_SOCKET: "", XDG_RUNTIME_DIR: xdg, TMPDIR: tmpdir }, `${xdg}/sockd.sock`],
    [
      "then TMPDIR/sockd-UID/",
      { SOCKD_SOCKET: "", XDG_RUNTIME_DIR: "", TMPDIR: tmpdir },
      `${perUser}/sockd.sock`,
    ],
  ];
  for (const [name, env, expected] of cases) {
    await t.step(name, async () => {
      await using server = spawnSockd(["serve"], { env });
      await waitFor(() => isLive(expected), 15_000, `a server on ${expected}`);
      // The client finds it by the same rule.
      const r = await runSockd(["call", "ping"], { env });
      assertEquals([r.code, r.stdout, r.stderr], [0, "pong\n", ""]);
      server.process.kill("SIGTERM");
      assertEquals(await server.exitCode(), 0);
    });
  }
  assertEquals((await Deno.stat(perUser)).mode! & 0o777, 0o700);
});

Deno.test("serve: a second SIGTERM cancels the calls still draining at once (106)", async () => {
  await using tmp = await tempDir();
  const plugins = `${tmp.dir}/cmds`;
  await Deno.mkdir(plugins);
  await Deno.writeTextFile(
    `${plugins}/hang.js`,
    `export default { name: "hang", summary: "One chunk, then wait until cancelled", async *run(ctx) {
      yield "started";
      await new Promise((r) => ctx.signal.addEventListener("abort", r));
    } };`,
  );
  // A drain of an hour: only the second signal can end the call in time.
  await using server = await startServer(`${tmp.dir}/a.sock`, [
    "--plugins",
    plugins,
    "--limit",
    "drainTimeoutMs=1h",
  ]);
  const client = await connect(server.path);
  try {
    const call = client.call("hang", [], { timeoutMs: 0 });
    const first = await call[Symbol.asyncIterator]().next();
    assertEquals(first.value, "started");
    let ended = false;
    const result = caught(call.result).finally(() => ended = true);
    server.process.kill("SIGTERM");
    await waitFor(() => server.stderr().includes("Shutting down"), 10_000, "the first signal's shutdown");
    assert(!ended, "the first signal lets the call drain");
    server.process.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const err = await Promise.race([
      result,
      new Promise<never>((_, reject) =>
        timer = setTimeout(
          () => reject(new Error("the second signal did not end the call within 10 s")),
          10_000,
        )
      ),
    ]).finally(() => clearTimeout(timer));
    assertStatus(err, 106);
    assertEquals(err.message, "Server is shutting down");
    assertEquals(await server.stop("SIGCONT"), 0);
    assertIncludes(server.stderr(), "Second signal: cancelling calls now");
  } finally {
    client.close();
  }
});

Deno.test("serve: --log-format json writes one JSON object per line", async () => {
  await using tmp = await tempDir();
  await using server = await startServer(`${tmp.dir}/a.sock`, [
    "--log-format",
    "json",
    "--log-level",
    "debug",
  ]);
  const r = await runSockd(["call", "--socket", server.path, "ping"]);
  assertEquals(r.stdout, "pong\n");
  assertEquals(await server.stop("SIGTERM"), 0);
  const lines = server.stderr().trimEnd().split("\n");
  const entries = lines.map((line) => {
    const entry = JSON.parse(line);
    assertEquals(typeof entry, "object", line);
    assert(
      !Number.isNaN(Date.parse(entry.ts)) && ["debug", "info", "warn", "error"].includes(entry.level),
      line,
    );
    return entry as { level: string; msg: string; path?: string; signal?: string };
  });
  const listening = entries.find((e) => e.msg === "Listening");
  assertEquals([listening?.level, listening?.path], ["info", server.path]);
  assertEquals(entries.find((e) => e.msg === "Stopping")?.signal, "SIGTERM");
  assertEquals(entries.at(-1)?.msg, "Stopped");
});

/**
 * Serves plugin `file` (its `source`), calls `command` over JSON lines, reads
 * the first bytes of the answer, stops the server with SIGTERM, waits 500 ms
 * after "Shutting down" reading nothing, then reads to the end: what arrived.
 * The server must then exit 0.
 */
async function readLateAfterSigterm(file: string, source: string, command: string): Promise<string> {
  await using tmp = await tempDir();
  const plugins = `${tmp.dir}/cmds`;
  await Deno.mkdir(plugins);
  await Deno.writeTextFile(`${plugins}/${file}`, source);
  await using server = await startServer(`${tmp.dir}/a.sock`, ["--plugins", plugins]);
  const conn = await Deno.connect({ transport: "unix", path: server.path });
  try {
    await conn.write(new TextEncoder().encode(`{"id":1,"command":"${command}"}\n`));
    const buf = new Uint8Array(64 * 1024);
    const first = await conn.read(buf);
    assert(first !== null && first > 0, "the answer started");
    server.process.kill("SIGTERM");
    await waitFor(() => server.stderr().includes("Shutting down"), 10_000, "the shutdown");
    await new Promise((r) => setTimeout(r, 500));
    const parts = [buf.slice(0, first)];
    for (let n; (n = await conn.read(buf)) !== null;) parts.push(buf.slice(0, n));
    assertEquals(await server.stop("SIGCONT"), 0);
    return new TextDecoder().decode(await new Blob(parts).bytes());
  } finally {
    try {
      conn.close();
    } catch { /* closed by the server */ }
  }
}

Deno.test("serve: on SIGTERM a large answer of a call that has ended reaches a client that reads it late, whole", async () => {
  // The call ends at once with 2 MiB, far more than the socket buffers hold: when the server is told to stop,
  // no call runs, and most of the answer is still sockd's to write. The exit must wait for it.
  const text = await readLateAfterSigterm(
    "huge.js",
    `export default { name: "huge", summary: "2 MiB result", run: () => "y".repeat(2 * 1024 * 1024) };`,
    "huge",
  );
  const answer = JSON.parse(text);
  assertEquals(answer.status, 0);
  assertEquals(answer.result.length, 2 * 1024 * 1024, "the whole result");
});

Deno.test("serve: on SIGTERM a call's last answers reach a client that reads them late, whole, before the exit", async () => {
  // 4 MiB of output, far more than the socket buffers hold: most of it is still sockd's to write at the end.
  // The call ends inside sockd while the client reads nothing; the server is told to stop meanwhile.
  const text = await readLateAfterSigterm(
    "big.js",
    `export default { name: "big", summary: "4 MiB of output", async *run() {
      for (let i = 0; i < 64; i++) yield "x".repeat(65536);
      return "done";
    } };`,
    "big",
  );
  const lines = text.trimEnd().split("\n");
  assertEquals(lines.length, 65, "64 chunks and the end");
  assertEquals(JSON.parse(lines.at(-1)!), { id: 1, status: 0, result: "done" });
});
