/**
 * Attacks on processes and descriptors (fixtures:
 * tests/fixtures/attacks/process/): a plugin that kills, stops or exits its
 * own process, or closes its Worker, only ends its own host, which is
 * restarted with its state; one that crashes after every restart is
 * disabled; one that exits while loading fails and is not restarted; it
 * cannot signal the server, its process group or another
 * plugin's host, nor reach the server's sockets through a descriptor; a call
 * that never answers is stopped at its deadline, its host killed by deadline
 * + grace.
 */
import { connect } from "../../../lib/client.ts";
import { Status } from "../../../lib/errors.ts";
import { assert, assertEquals, assertIncludes, assertStatus } from "../../assert.ts";
import { waitFor } from "../../_helpers.ts";
import { alive, assertMatch, type Attack, attack, procState, step, within } from "./_kit.ts";

const GRACE_MS = 2000;
const SLACK_MS = 1000;
/** The server's unresponsiveMs, and how often it pings. */
const UNRESPONSIVE_MS = 8000;
const PING_MS = 2000;

/**
 * The pid of `file`'s host, which must be a live process other than the
 * server; hosts start on first use, so `start` (a harmless command) is called first.
 */
async function hostPid(a: Attack, file: string, start?: string): Promise<number> {
  if (start) await a.call(start);
  const p = await a.plugin(file);
  assert(typeof p.pid === "number" && p.pid !== a.server.process.pid && alive(p.pid), JSON.stringify(p));
  return p.pid;
}

/** Waits until `file` runs in a new host (not `old`), restarted at least once. */
async function restarted(a: Attack, file: string, old: number, ms = 5000) {
  return await a.waitPlugin(
    file,
    (p) => p.state === "loaded" && p.restarts >= 1 && typeof p.pid === "number" && p.pid !== old,
    ms,
    `${file} restarted in a new host`,
  );
}

/** A call that overruns its 500 ms deadline: 104 at the deadline, the host gone by deadline + grace. */
async function assertStopped(a: Attack, file: string, command: string, stops = false) {
  const pid = await hostPid(a, file, `${command}-pid`);
  const t0 = performance.now();
  const call = a.fail(command);
  call.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
  // SIGSTOP really stops the host (state T) before the deadline.
  if (stops) await waitFor(() => procState(pid) === "T", 450, `host ${pid} stopped`);
  const err = await call;
  const took = performance.now() - t0;
  assertStatus(err, Status.TIMEOUT);
  assert(took >= 450 && took < 1500, `104 after ${took.toFixed(0)} ms (deadline 500)`);
  await waitFor(() => !alive(pid), 500 + GRACE_MS + SLACK_MS - took, `host ${pid} to be killed`);
  assert(performance.now() - t0 <= 500 + GRACE_MS + SLACK_MS);
  await restarted(a, file, pid);
}

/** A busy persistent call (no deadline) ended by its caller: its host is killed within grace. */
async function assertCallerStops(a: Attack, file: string, command: string, how: "cancel" | "hang up") {
  const c = await connect(a.server.path);
  let pid: number;
  try {
    const call = c.call(command);
    call.result.catch(() => {});
    await new Promise((r) => setTimeout(r, 300));
    // The call started the host (hosts start on first use), and keeps it: it is persistent.
    pid = (await a.waitPlugin(file, (p) => p.pid !== undefined, 5000, `${file} to have a host`)).pid!;
    assert(alive(pid));
    const t0 = performance.now();
    if (how === "cancel") call.cancel();
    else c.close();
    // A hang-up reads as end of input, as a half-close would (answers are still owed to a client that
    // half-closes): a call that never writes never learns of it. Its host, spinning, stops answering
    // the server's pings and is killed after unresponsiveMs (8 s) instead.
    const limit = how === "cancel" ? GRACE_MS + SLACK_MS : UNRESPONSIVE_MS + PING_MS + SLACK_MS;
    await waitFor(() => !alive(pid), limit, `host ${pid} to be killed after the ${how}`);
    assert(performance.now() - t0 <= limit);
  } finally {
    c.close();
  }
  await restarted(a, file, pid);
}

Deno.test("attacks/process: signals, exits and descriptors reach only the plugin's own host", async (t) => {
  await using a = await attack("process");
  const server = a.server.process.pid;

  await step(t, a, "each plugin file runs in its own host process, a child of the server", async () => {
    const me = await a.call("whoami") as { pid: number; ppid: number };
    assert(me.pid !== server, "not in the server's process");
    assertEquals(me.ppid, server, "its host is a child of the server");
    assertEquals(me.pid, await hostPid(a, "whoami.ts"));
    assert(me.pid !== await a.call("victim-pid"), "one host per plugin file");
    assertEquals((await a.plugin("whoami.ts")).runner, "process");
  });

  await step(
    t,
    a,
    "Deno.kill(Deno.pid, SIGKILL) ends its own host only: 105 naming the host, restarted",
    async () => {
      const pid = await hostPid(a, "kill_self.ts", "kill-self-pid");
      const victim = await hostPid(a, "victim.ts", "victim-pid");
      const err = await a.fail("kill-self");
      assertStatus(err, Status.HANDLER_ERROR);
      assertMatch(err.message, /host/i);
      assertIncludes(err.message, "kill_self.ts");
      const p = await restarted(a, "kill_self.ts", pid);
      assert(!alive(pid), "the old host is gone");
      assertEquals(await a.call("kill-self-pid"), p.pid);
      assertEquals(await hostPid(a, "victim.ts"), victim, "other hosts untouched");
      assertEquals(await a.call("victim"), "victim-ok");
    },
  );

  // Both wait out deadline + grace, so they run together.
  await step(
    t,
    a,
    "SIGSTOP, a call that never answers, and busy persistent calls cancelled (within grace) or hung up on (once silent for 8 s): each host killed",
    async () => {
      await Promise.all([
        assertStopped(a, "stop_self.ts", "stop-self", true),
        assertStopped(a, "never.ts", "never"),
        assertCallerStops(a, "persistent_spin1.ts", "persistent-spin1", "cancel"),
        assertCallerStops(a, "persistent_spin2.ts", "persistent-spin2", "hang up"),
      ]);
      assertEquals(typeof await a.call("stop-self-pid"), "number");
      assertEquals(typeof await a.call("never-pid"), "number");
    },
    20,
  );

  await step(
    t,
    a,
    "signalling the server is denied: Deno.kill(Deno.ppid) and node's process.kill(ppid)",
    async () => {
      for (
        const [command, file] of [["kill-parent", "kill_parent.ts"], [
          "kill-parent-node",
          "kill_parent_node.ts",
        ]]
      ) {
        const err = await a.fail(command!);
        assertStatus(err, Status.HANDLER_ERROR);
        assertMatch(err.message, /requires run access/i);
        assertIncludes(err.message, file!);
      }
    },
  );

  await step(t, a, "signalling the process group (pid 0, -ppid) is denied", async () => {
    const err = await a.fail("kill-group");
    assertStatus(err, Status.HANDLER_ERROR);
    assertMatch(err.message, /requires run access/i);
  });

  await step(t, a, "killing another plugin's host is denied; it keeps its pid and answers", async () => {
    const victim = await hostPid(a, "victim.ts", "victim-pid");
    const err = await a.fail("kill-sibling", [String(victim)]);
    assertStatus(err, Status.HANDLER_ERROR);
    assertMatch(err.message, /requires run access/i);
    assert(alive(victim));
    assertEquals(await hostPid(a, "victim.ts"), victim);
    assertEquals(await a.call("victim"), "victim-ok");
  });

  await step(t, a, "Deno.exit in a plugin: 105, its host restarted, it serves again", async () => {
    const pid = await hostPid(a, "exit_self.ts", "exit-self-ok");
    const err = await a.fail("exit-self");
    assertStatus(err, Status.HANDLER_ERROR);
    assertIncludes(err.message, "exit_self.ts");
    await restarted(a, "exit_self.ts", pid);
    assertEquals(await a.call("exit-self-ok"), "exit-self-ok");
  });

  await step(t, a, "state survives its host being killed", async () => {
    assertEquals(await a.call("state-set", ["before-kill"]), "set");
    const pid = await hostPid(a, "state.ts");
    assertStatus(await a.fail("state-die"), Status.HANDLER_ERROR);
    await restarted(a, "state.ts", pid);
    assertEquals(await a.call("state-get"), "before-kill");
  });

  await step(
    t,
    a,
    "adopting descriptors 0..255 (node:net, node:fs) reaches no other client and not the listener",
    async () => {
      // A client of the msgpack dialect and a raw text client, connected before the attack.
      const bystander = await connect(a.server.path);
      let bystanderClosed = false;
      bystander.closed.then(() => bystanderClosed = true);
      const raw = await Deno.connect({ transport: "unix", path: a.server.path });
      const seen: string[] = [];
      const reading = (async () => {
        const buf = new Uint8Array(4096);
        for (;;) {
          const n = await raw.read(buf).catch(() => null);
          if (n === null) return;
          seen.push(new TextDecoder().decode(buf.subarray(0, n)));
        }
      })();
      try {
        await raw.write(new TextEncoder().encode("ping\n"));
        await waitFor(() => seen.join("").includes("pong\n"), 3000, "the raw client's first pong");
        for (const command of ["adopt-fds", "write-fds"]) {
          // Whatever the plugin's own call answers (its host may be ended for garbage on its pipes), it is bounded.
          await within(10_000, command, a.client.call(command).result.catch((e) => e));
        }
        await new Promise((r) => setTimeout(r, 300));
        assertEquals(seen.join(""), "pong\n", "the raw client received nothing it did not ask for");
        assert(!bystanderClosed, "the msgpack client's connection is intact");
        assertEquals(await within(3000, "bystander ping", bystander.call("ping").result), "pong");
        await raw.write(new TextEncoder().encode("ping\n"));
        await waitFor(() => seen.join("") === "pong\npong\n", 3000, "the raw client's second pong");
        for (let i = 0; i < 5; i++) {
          const fresh = await connect(a.server.path, { timeoutMs: 3000 });
          try {
            assertEquals(await within(3000, "fresh ping", fresh.call("ping").result), "pong");
          } finally {
            fresh.close();
          }
        }
        const raws = a.server.stderr().split("\n").filter((l) =>
          l.includes("HACKED") && !l.includes("descriptors.ts")
        );
        assertEquals(raws, [], "what the plugin wrote reaches the log only as its output");
      } finally {
        bystander.close();
        raw.close();
        await reading;
      }
    },
  );
  await step(
    t,
    a,
    "self.close() of the plugin's Worker in a call: 105 naming the plugin, then it serves again",
    async () => {
      const err = await a.fail("close-worker", [], 10_000);
      assertStatus(err, Status.HANDLER_ERROR);
      assertIncludes(err.message, "close_worker.ts");
      await a.waitPlugin(
        "close_worker.ts",
        (p) => p.restarts >= 1 && p.state === "loaded",
        5000,
        "restarted",
      );
      assertEquals(await a.call("close-worker-ok"), "close-worker-ok");
    },
  );

  await step(t, a, "a plugin that exits while loading fails, and is not restarted without end", async () => {
    const p = await a.plugin("exit_at_load.ts");
    assert(p.state === "failed" || p.state === "disabled", JSON.stringify(p));
    assertMatch(p.error ?? "", /exit|7/i);
    assertStatus(await a.fail("exit-at-load"), Status.NOT_FOUND);
    await new Promise((r) => setTimeout(r, 1000));
    const later = await a.plugin("exit_at_load.ts");
    assertEquals(later.restarts, p.restarts, "no more restarts");
    assert(later.pid === undefined || !alive(later.pid), `no host left running: ${later.pid}`);
  });

  await step(t, a, "a plugin that crashes after every restart is disabled, saying why", async () => {
    // Its host starts on first use; from then on it crashes 100 ms after every (re)start.
    assertEquals(await a.call("crash-loop"), "crash-loop");
    const p = await a.waitPlugin(
      "crash_loop.ts",
      (p) => p.state === "disabled",
      15_000,
      "crash_loop.ts disabled",
    );
    assertIncludes(p.error ?? "", "crash-loop boom");
    const err = await a.fail("crash-loop");
    assertStatus(err, Status.HANDLER_ERROR);
    assertMatch(err.message, /disabled/i);
  });
});
