/**
 * Memory attacks (fixtures: tests/fixtures/attacks/resources/), the bombs
 * under `"memory": 64` in sockd.json: an endless allocation ends its own
 * host only (105 naming the cap), is restarted, and disabled when it keeps
 * doing it; memory outside the JS heap and in a child Worker is capped too;
 * a plugin that allocates while loading fails to load. Memory the server
 * holds for a plugin is bounded too: state, and chunks a client does not
 * read. The server and the other plugins answer throughout.
 */
import { connect } from "../../../lib/client.ts";
import { Status } from "../../../lib/errors.ts";
import { assert, assertEquals, assertIncludes, assertStatus } from "../../assert.ts";
import { assertMatch, type Attack, attack, rssMiB, step, within } from "./_kit.ts";

/** `command` must answer 105 naming memory and the 64 MiB cap while the victim keeps answering. */
async function assertCapped(a: Attack, command: string) {
  let victimOk = 0;
  let victimFailed = "";
  let bombing = true;
  const victim = (async () => {
    while (bombing) {
      try {
        if (await a.call("victim", [], 2000) === "victim-ok") victimOk++;
      } catch (err) {
        victimFailed ||= (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    const err = await a.fail(command, [], 25_000);
    assertStatus(err, Status.HANDLER_ERROR);
    assertMatch(err.message, /memory/i);
    assertIncludes(err.message, "64 MiB");
  } finally {
    bombing = false;
    await victim;
  }
  assertEquals(victimFailed, "", "the other plugin answered throughout");
  assert(victimOk >= 1, `the other plugin answered ${victimOk} times during the bomb`);
}

Deno.test("attacks/resources: memory bombs end their own host only, under the plugin's cap", async (t) => {
  await using a = await attack("resources");

  await step(t, a, "an allocation while loading fails that plugin only", async () => {
    const p = await a.plugin("bomb_at_load.ts");
    assert(p.state === "failed" || p.state === "disabled", JSON.stringify(p));
    assertMatch(p.error ?? "", /memory/i);
    assertStatus(await a.fail("bomb-at-load"), Status.NOT_FOUND);
    assertEquals(await a.call("victim"), "victim-ok");
  });

  await step(
    t,
    a,
    "endless allocation: 105 naming the 64 MiB cap, the host restarted, the plugin serves again",
    async () => {
      const before = (await a.plugin("bomb.ts")).pid;
      await assertCapped(a, "bomb");
      const p = await a.waitPlugin("bomb.ts", (p) => p.restarts >= 1 && p.pid !== before, 5000, "a new host");
      assertEquals(p.state, "loaded");
      assertEquals(await a.call("bomb-ok"), "bomb-ok");
    },
  );

  await step(t, a, "memory outside the JS heap (1 GiB of ArrayBuffers) is capped too", async () => {
    await assertCapped(a, "buffer-bomb");
  });

  await step(
    t,
    a,
    "a child Worker (an isolate of its own, outside the heap cap) does not exist for a plugin",
    async () => {
      const err = await a.fail("nested-bomb");
      assertStatus(err, Status.HANDLER_ERROR);
      assertIncludes(err.message, "Worker is not defined");
    },
  );

  await step(
    t,
    a,
    "allocating while flooding the host's main thread (where the cap is kept) is capped too",
    async () => {
      await assertCapped(a, "starve-bomb");
    },
  );

  await step(t, a, "a plugin that keeps doing it (3 times within 60 s) is disabled, saying why", async () => {
    // bomb.ts failed once above; two more.
    await assertCapped(a, "bomb");
    await assertCapped(a, "bomb");
    const p = await a.waitPlugin("bomb.ts", (p) => p.state === "disabled", 5000, "bomb.ts disabled");
    assertMatch(p.error ?? "", /memory/i);
    const err = await a.fail("bomb-ok");
    assertStatus(err, Status.HANDLER_ERROR);
    assertMatch(err.message, /disabled/i);
    assertIncludes(err.message, "bomb.ts");
    assertEquals(await a.call("victim"), "victim-ok");
  }, 10);
  await step(
    t,
    a,
    "endless 64 KiB chunks to a client that does not read: the server's memory stays bounded",
    async () => {
      const server = a.server.process.pid;
      const c = await connect(a.server.path);
      try {
        const before = rssMiB(server);
        const flood = c.call("flood");
        flood.result.catch(() => {});
        let peak = before;
        const end = performance.now() + 1000;
        while (performance.now() < end) {
          peak = Math.max(peak, rssMiB(server));
          await new Promise((r) => setTimeout(r, 50));
        }
        flood.cancel();
        assert(
          peak - before < 64,
          `the server grew ${(peak - before).toFixed(0)} MiB while the client did not read`,
        );
      } finally {
        c.close();
      }
      assertEquals(await a.call("victim"), "victim-ok");
    },
    20,
  );
  await step(
    t,
    a,
    "state (kept in the server, outside the cap) cannot be used to fill the server's memory",
    async () => {
      const server = a.server.process.pid;
      const before = rssMiB(server);
      const answer = await within(25_000, "state-hoard", a.client.call("state-hoard").result.catch((e) => e));
      const grew = rssMiB(server) - before;
      if (answer instanceof Error) {
        assertStatus(answer, Status.HANDLER_ERROR);
        assertMatch(answer.message, /state|limit|large|size|memory/i);
      }
      assert(
        grew < 128,
        `the server grew ${grew.toFixed(0)} MiB holding a plugin's state (answer: ${answer})`,
      );
      const deep = await within(10_000, "state-deep", a.client.call("state-deep").result.catch((e) => e));
      if (deep instanceof Error) assertStatus(deep, Status.HANDLER_ERROR);
      assertEquals(await a.call("victim"), "victim-ok");
    },
    10,
  );
});
