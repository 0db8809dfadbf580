/**
 * A grant that must never reach a plugin (fixtures:
 * tests/fixtures/attacks/grants/): sockd's own permission set may run
 * `/proc/self/exe` (to start hosts); granted to a plugin, it would run
 * `deno eval` with every permission. A sockd.json that grants it fails that
 * plugin (or the file) saying so, and the plugin never runs the program.
 * The controls: "sandbox": "inline" and the legacy false run in the server.
 */
import { assert, assertEquals } from "../../assert.ts";
import { assertNoSecret, attack, step } from "./_kit.ts";

Deno.test("attacks/grants: run /proc/self/exe is never granted to a plugin", async (t) => {
  await using a = await attack("grants");

  await step(t, a, "the grant is refused, naming it, and the program never runs", async () => {
    const answer = await a.client.call("self-exe").result.catch((e) => e);
    assertNoSecret(a, answer instanceof Error ? answer.message : answer);
    assert(answer instanceof Error, `self-exe ran: ${JSON.stringify(answer)?.slice(0, 200)}`);
    const list = await a.plugins();
    const refused = list.find((p) => p.state === "failed" && (p.error ?? "").includes("/proc/self/exe"));
    assert(
      refused,
      `a failure naming /proc/self/exe: ${JSON.stringify(list.map((p) => [p.file, p.state, p.error]))}`,
    );
  });

  await step(
    t,
    a,
    'controls: "sandbox": "inline" (and the legacy false) run in the server itself',
    async () => {
      for (const [file, command] of [["inline.ts", "inline"], ["legacy_inline.ts", "legacy-inline"]]) {
        assertEquals(await a.call(command!), a.server.process.pid, `${command} runs in the server`);
        assertEquals((await a.plugin(file!)).runner, "inline");
      }
      assertEquals(await a.call("victim"), "victim-ok");
    },
  );
});
