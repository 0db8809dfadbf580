/**
 * `upgrade` and SIGUSR2 for real: the server starts its successor (the same
 * executable, through /proc/self/exe), hands it the sockets and the plugin
 * state, and goes; a successor that cannot start leaves it serving.
 */
import { connect } from "../../lib/client.ts";
import type { ServerStatus } from "../../lib/command.ts";
import { Status } from "../../lib/errors.ts";
import { isLive } from "../../lib/listener.ts";
import { match as assertMatch } from "node:assert/strict";
import { assert, assertEquals, assertStatus, caught } from "../assert.ts";
import { DENO, ROOT, startServer, tempDir, waitFor } from "../_helpers.ts";
import { callOnce, pidAt, stopAt } from "./_upgrade_kit.ts";

/** A plugin whose state counts its calls: what must survive an upgrade. */
const COUNTER = `export default {
  name: "bump", summary: "Count calls in the plugin state", access: "read",
  run(ctx) { const n = (ctx.state.get("n") ?? 0) + 1; ctx.state.set("n", n); return n; },
};`;

Deno.test("upgrade: SIGUSR2 and then the command replace the process three times; plugin state is kept", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/a.sock`;
  const plugins = `${tmp.dir}/cmds`;
  await Deno.mkdir(plugins);
  await Deno.writeTextFile(`${plugins}/bump.ts`, COUNTER);
  await using first = await startServer(path, ["--plugins", plugins]);
  try {
    assertEquals(await callOnce(path, "bump"), 1);
    const pids = [await pidAt(path)];
    // The first by signal (the test may signal only its own child).
    first.process.kill("SIGUSR2");
    // The old process ends by itself once replaced (its stderr pipe lives on in the successor).
    assertEquals((await first.process.status).code, 0);
    await waitFor(async () => await pidAt(path).catch(() => pids[0]) !== pids[0], 20_000, "the successor");
    pids.push(await pidAt(path));
    assertEquals(await callOnce(path, "bump"), 2);
    // Then by command, twice; each answers with the new pid.
    for (let i = 0; i < 2; i++) {
      const answer = await callOnce(path, "upgrade") as { upgraded: boolean; pid: number };
      assertEquals(answer.upgraded, true);
      assertEquals(await pidAt(path), answer.pid);
      pids.push(answer.pid);
      assertEquals(await callOnce(path, "bump"), 3 + i);
    }
    assertEquals(new Set(pids).size, 4, `four processes in turn: ${pids.join(", ")}`);
    assertMatch(first.stderr(), /Upgrade: the successor serves; handing the connections over and stopping/);
    assertMatch(first.stderr(), /Took over from the server it replaces/);
  } finally {
    await stopAt(path);
  }
});

Deno.test("upgrade: sockets systemd passed move to the successor with their access levels", async () => {
  await using tmp = await tempDir();
  const admin = `${tmp.dir}/admin.sock`;
  const ro = `${tmp.dir}/ro.sock`;
  const act = new Deno.Command("systemd-socket-activate", {
    args: [
      "-l",
      admin,
      "-l",
      ro,
      "--fdname=admin:ro",
      DENO,
      "run",
      "-q",
      "-P=sockd",
      `${ROOT}main.ts`,
      "serve",
      "--listen",
      "fd:admin,access=admin",
      "--listen",
      "fd:ro,access=read",
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitFor(() => isLive(ro).catch(() => false), 10_000, "the sockets");
    const before = await pidAt(ro);
    const answer = await callOnce(admin, "upgrade") as { pid: number };
    assert(answer.pid !== before);
    await act.status; // the activated process was replaced and ended
    const c = await connect(ro, { timeoutMs: 5000 });
    const status = await c.call("status").result as ServerStatus;
    assertEquals(status.pid, answer.pid);
    assertEquals(status.listeners.map((l) => [l.path, l.access, l.activation]), [
      ["fd:admin", "admin", "systemd"],
      ["fd:ro", "read", "systemd"],
    ]);
    assertStatus(await caught(c.call("shutdown").result), Status.FORBIDDEN);
    c.close();
  } finally {
    await stopAt(admin);
    try {
      act.kill("SIGKILL");
    } catch { /* ended */ }
    await act.status;
  }
});

Deno.test("upgrade: a successor that crashes on start leaves the old server serving; the command answers 105", async () => {
  await using tmp = await tempDir();
  // A checkout of its own, whose main.ts is then broken (a bad build at the same path).
  const copy = `${tmp.dir}/sockd/`;
  await Deno.mkdir(copy, { recursive: true });
  await copyTree(`${ROOT}lib`, `${copy}lib`);
  await copyTree(`${ROOT}commands`, `${copy}commands`);
  for (const f of ["main.ts", "deno.json", "deno.lock"]) await Deno.copyFile(`${ROOT}${f}`, `${copy}${f}`);
  const path = `${tmp.dir}/a.sock`;
  const server = new Deno.Command(DENO, {
    args: ["run", "-q", "-P=sockd", `${copy}main.ts`, "serve", "--socket", path],
    cwd: copy,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    await waitFor(() => isLive(path).catch(() => false), 15_000, "the server");
    const pid = await pidAt(path);
    await Deno.writeTextFile(`${copy}main.ts`, `throw new Error("this build is broken");\n`);
    const err = await caught(callOnce(path, "upgrade"));
    assertStatus(err, Status.HANDLER_ERROR);
    assertMatch(
      err.message,
      /Upgrade failed: the successor exited \(code 1\) before it served; this server goes on/,
    );
    // Still the same server, still serving.
    assertEquals(await pidAt(path), pid);
    assertEquals(await callOnce(path, "ping"), "pong");
  } finally {
    server.kill("SIGTERM");
    await server.status;
    await server.stderr.cancel();
  }
});

async function copyTree(from: string, to: string) {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyTree(`${from}/${e.name}`, `${to}/${e.name}`);
    else if (e.isFile) await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

// Both processes could once write plugin state at the same time (the old one finishing calls while the
// successor served), and increments were lost under load. Now the successor runs no plugin call until the old
// one says its state is final; each counted call's increment must reach the last process.
Deno.test("upgrade: plugin state changes made while the successor starts are not lost", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/a.sock`;
  const plugins = `${tmp.dir}/cmds`;
  await Deno.mkdir(plugins);
  await Deno.writeTextFile(`${plugins}/bump.ts`, COUNTER);
  await using first = await startServer(path, ["--plugins", plugins]);
  let ok = 0;
  let stop = false;
  // Four clients bump the counter all along; a call refused by a closing connection is simply not counted.
  const worker = async () => {
    let c = await connect(path, { timeoutMs: 5000 });
    while (!stop) {
      try {
        await c.call("bump", [], { timeoutMs: 10_000 }).result;
        ok++;
      } catch {
        c.close();
        c = await connect(path, { timeoutMs: 5000 });
      }
    }
    c.close();
  };
  try {
    const workers = Array.from({ length: 4 }, worker);
    for (let i = 0; i < 2; i++) {
      await waitFor(() => ok >= (i + 1) * 200, 20_000, "calls between upgrades");
      await callOnce(path, "upgrade");
    }
    await waitFor(() => ok >= 600, 20_000, "calls after the upgrades");
    stop = true;
    await Promise.all(workers);
    // Every counted call's increment reached the last process.
    assertEquals(await callOnce(path, "bump"), ok + 1);
  } finally {
    stop = true;
    await stopAt(path);
    await first.process.status;
  }
});
