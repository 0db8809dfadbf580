/**
 * Attacks on the server–host protocol (fixtures:
 * tests/fixtures/attacks/protocol/): garbage and forged frames on the host's
 * stdout, a frame header announcing 2 GiB, forged `loaded` messages at load,
 * forged answers to other calls (posted, and in the host protocol's own
 * shape on fd 1), state frames the host keeps no copy of, closed stdio,
 * error statuses that are not sockd's, commands named like the built-ins,
 * ctx.server's admin API, and values too large or too deep to carry. The
 * server believes nothing a host says: a malformed host is ended (105
 * naming the plugin) and restarted; nothing reaches another plugin or client.
 */
import { connect } from "../../../lib/client.ts";
import { Status } from "../../../lib/errors.ts";
import { assert, assertEquals, assertIncludes, assertStatus } from "../../assert.ts";
import { alive, assertMatch, type Attack, attack, rssMiB, step, within } from "./_kit.ts";

/** `command` must end its host promptly as malformed, and the plugin serve again from a new host. */
async function assertHostEnded(a: Attack, file: string, command: string, pattern = /malformed|protocol/i) {
  // Hosts start on first use: a harmless call starts this one.
  assertEquals(await a.call(`${command}-ok`), command === "stdout-garbage" ? "stdout-garbage-ok" : "ok");
  const pid = (await a.plugin(file)).pid;
  assert(typeof pid === "number", `${file} has a host pid`);
  const t0 = performance.now();
  const err = await a.fail(command, [], 10_000);
  const took = performance.now() - t0;
  assertStatus(err, Status.HANDLER_ERROR);
  assertIncludes(err.message, file);
  assertMatch(err.message, pattern);
  // The fixtures wait 3 s before answering "survived": the host must be ended before that.
  assert(took < 2500, `ended after ${took.toFixed(0)} ms`);
  await a.waitPlugin(
    file,
    (p) => p.restarts >= 1 && p.pid !== pid && p.state === "loaded",
    5000,
    "a new host",
  );
  assert(!alive(pid), `the old host ${pid} is gone`);
  assertIncludes(a.server.stderr(), file);
}

/** Every log line mentioning `marker` is attributed to one of `files`. */
function assertAttributed(a: Attack, marker: string, files: string[]) {
  const stray = a.server.stderr().split("\n")
    .filter((l) => l.includes(marker) && !files.some((f) => l.includes(f)));
  assertEquals(stray, [], `log lines with ${marker} not attributed to ${files}`);
}

Deno.test("attacks/protocol: the server trusts nothing a host says", async (t) => {
  await using a = await attack("protocol");

  await step(
    t,
    a,
    "forged loaded messages at load: the server started, no evil or hijacked command",
    async () => {
      const p = await a.plugin("forged_loaded.ts");
      assert(!p.commands.includes("evil") && !p.commands.includes("ping"), JSON.stringify(p));
      if (p.state === "loaded") {
        assertEquals(p.commands, ["forged-ok"]);
        assertEquals(await a.call("forged-ok"), "forged-ok");
      } else assertEquals(p.state, "failed");
      assertStatus(await a.fail("evil"), Status.NOT_FOUND);
      assertEquals(await a.call("ping"), "pong");
      assertEquals(await a.call("quick"), "quick", "the other plugins loaded");
    },
  );

  await step(t, a, "garbage on Deno.stdout ends that host: 105 naming the plugin, restarted", async () => {
    await assertHostEnded(a, "stdout_garbage.ts", "stdout-garbage");
    assertEquals(await a.call("stdout-garbage-ok"), "stdout-garbage-ok");
    assertEquals(await a.call("quick"), "quick");
  });

  await step(t, a, "random bytes on fd 1 (node:fs) end that host", async () => {
    await assertHostEnded(a, "fd1_garbage.ts", "fd1-garbage");
  });

  await step(
    t,
    a,
    "a frame header announcing 2 GiB ends that host at once (no wait, no allocation)",
    async () => {
      await assertHostEnded(a, "huge_length.ts", "huge-length", /malformed|protocol|large|size/i);
    },
  );

  await step(t, a, "forged frames on stdout end that host, and answer no other call", async () => {
    const victim = within(5000, "slow-victim", a.client.call("slow-victim").result);
    await assertHostEnded(a, "forged_frame.ts", "forged-frame");
    assertEquals(await victim, "victim-ok");
    assertStatus(await a.fail("evil"), Status.NOT_FOUND);
    assertAttributed(a, "FORGED-FRAME-LOG", ["forged_frame.ts"]);
  });

  await step(
    t,
    a,
    "forged posts (ends, chunks, state, crash, loaded, non-messages) reach no other call",
    async () => {
      const victims = [0, 1, 2].map(() => within(5000, "slow-victim", a.client.call("slow-victim").result));
      const forger = await within(10_000, "forge-posts", a.client.call("forge-posts").result.catch((e) => e));
      for (const v of victims) assertEquals(await v, "victim-ok");
      if (forger instanceof Error) assertStatus(forger, Status.HANDLER_ERROR);
      else assertEquals(forger, "forger-done");
      assertStatus(await a.fail("evil2"), Status.NOT_FOUND);
      assertEquals(await a.call("quick"), "quick");
      assertAttributed(a, "FORGED", ["forged_posts.ts", "forged_frame.ts", "forged_loaded.ts"]);
    },
  );

  await step(t, a, "a 20 MiB result or chunk answers a clear error; the connection carries on", async () => {
    const c = await connect(a.server.path);
    try {
      for (const command of ["huge-result", "huge-chunk"]) {
        const err = await within(
          15_000,
          command,
          c.call(command).result.then(() => new Error("a result"), (e) => e),
        );
        assert(
          err.status === Status.HANDLER_ERROR || err.status === Status.TOO_LARGE,
          `${command}: ${err.message}`,
        );
        assert(err.remote, `the server answered (not a dead connection): ${err.message}`);
        assertMatch(err.message, /large|limit|MiB|bytes|size/i);
        assertEquals(
          await within(3000, "quick", c.call("quick").result),
          "quick",
          "the same connection serves",
        );
      }
    } finally {
      c.close();
    }
  });

  await step(t, a, "a value nested 100,000 deep does not overflow the server's stack", async () => {
    const c = await connect(a.server.path);
    try {
      const answer = await within(10_000, "deep-result", c.call("deep-result").result.catch((e) => e));
      if (answer instanceof Error) assertStatus(answer, Status.HANDLER_ERROR);
      assertEquals(await a.call("quick"), "quick");
    } finally {
      c.close();
    }
  });
  await step(
    t,
    a,
    "a host that closes its own stdout or stdin is replaced; no call waits on it",
    async () => {
      for (const command of ["close-stdout", "close-stdin"]) {
        const answer = await within(10_000, command, a.client.call(command).result.catch((e) => e));
        // Harmless (the pipe is not stdio) or fatal to that host only: a 105 that names the plugin.
        if (answer instanceof Error) {
          assertStatus(answer, Status.HANDLER_ERROR);
          assertIncludes(answer.message, "stdio_close.ts");
        }
        const t0 = performance.now();
        let last: unknown;
        while ((last = await a.client.call("stdio-ok").result.catch((e) => e)) !== "stdio-ok") {
          assert(performance.now() - t0 < 5000, `stdio-ok after ${command}: ${last}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    },
  );

  await step(
    t,
    a,
    "an error status that is not a sockd error code (0, -1, 12345, 200, a string) answers 105",
    async () => {
      for (const status of ["0", "neg1", "12345", "200", "string"]) {
        const err = await a.fail("bad-status", [status]);
        assertStatus(err, Status.HANDLER_ERROR);
        assertIncludes(err.message, "bad status");
      }
    },
  );
  await step(
    t,
    a,
    "commands named like the built-ins (ping, shutdown, plugins) do not replace them",
    async () => {
      assertEquals(await a.call("ping"), "pong");
      assert(Array.isArray(await a.plugins()), "plugins is the built-in");
      const p = await a.plugin("shadow.ts");
      // The built-ins answer; the plugin's commands of those names are skipped, with a warning each.
      for (const name of ["ping", "shutdown", "plugins"]) {
        assert(
          p.warnings?.some((w) => w.includes(`"${name}"`)),
          `a warning for ${name}: ${JSON.stringify(p)}`,
        );
      }
      assertEquals(await a.call("shadow-ok"), "shadow-ok");
    },
  );

  await step(
    t,
    a,
    "ctx.server offers a plugin no way to reload, list plugins or shut down the server",
    async () => {
      const offered = await a.call("server-api") as Record<string, string>;
      for (const [name, what] of Object.entries(offered)) {
        assert(what !== "CALLED" && what !== "function", `ctx.server.${name}: ${what}`);
      }
      assertEquals(await a.call("quick"), "quick");
    },
  );
  await step(
    t,
    a,
    "speaking the host protocol exactly (frames on fd 1) reaches only the plugin's own calls",
    async () => {
      const victims = [0, 1, 2].map(() => within(5000, "slow-victim", a.client.call("slow-victim").result));
      const forger = await within(10_000, "forge-real", a.client.call("forge-real").result.catch((e) => e));
      for (const v of victims) assertEquals(await v, "victim-ok");
      if (forger instanceof Error) assertStatus(forger, Status.HANDLER_ERROR);
      assertStatus(await a.fail("late-evil"), Status.NOT_FOUND);
      assertAttributed(a, "FORGED-REAL-LOG", ["forged_real.ts"]);
      const t0 = performance.now();
      while (await a.client.call("forge-real-ok").result.catch((e) => e) !== "forge-real-ok") {
        assert(performance.now() - t0 < 5000, "forged_real.ts serves again");
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  );

  await step(t, a, "state frames written straight to the pipe cannot fill the server's memory", async () => {
    const before = rssMiB(a.server.process.pid);
    const answer = await within(10_000, "state-forge", a.client.call("state-forge").result.catch((e) => e));
    let peak = before;
    for (let i = 0; i < 10; i++) {
      peak = Math.max(peak, rssMiB(a.server.process.pid));
      await new Promise((r) => setTimeout(r, 100));
    }
    assert(
      peak - before < 128,
      `the server grew ${(peak - before).toFixed(0)} MiB of forged state (${answer})`,
    );
    assertEquals(await a.call("quick"), "quick");
  }, 10);

  await step(
    t,
    a,
    "chunk frames past the credit, to a client that does not read, do not pile up in the server",
    async () => {
      const pid = a.server.process.pid;
      const c = await connect(a.server.path);
      try {
        const before = rssMiB(pid);
        let peak = before;
        const call = c.call("chunk-flood");
        call.result.catch(() => {});
        const end = performance.now() + 2500;
        while (performance.now() < end) {
          peak = Math.max(peak, rssMiB(pid));
          await new Promise((r) => setTimeout(r, 50));
        }
        call.cancel();
        assert(peak - before < 64, `the server grew ${(peak - before).toFixed(0)} MiB of chunks nobody read`);
      } finally {
        c.close();
      }
      assertEquals(await a.call("quick"), "quick");
    },
    10,
  );
});
