/**
 * Plugins that never finish loading (fixtures:
 * tests/fixtures/attacks/slowload/): one awaits forever at its top level,
 * one spins there. The server must start serving the others without waiting
 * out their load timeout (a plugin must not hold up every start and reload
 * by 10 s), and a server shut down meanwhile leaves no host behind.
 */
import { Status } from "../../../lib/errors.ts";
import { assert, assertEquals, assertStatus } from "../../assert.ts";
import { waitFor } from "../../_helpers.ts";
import { alive, attack, childPids, step, within } from "./_kit.ts";

Deno.test("attacks/slowload: plugins that never finish loading hold up neither the start nor the shutdown", async (t) => {
  const t0 = performance.now();
  await using a = await attack("slowload");
  const started = performance.now() - t0;

  await step(t, a, "the server serves the other plugins at once", async () => {
    assert(
      started < 5000,
      `the server took ${started.toFixed(0)} ms to serve (two plugins hang in their load)`,
    );
    assertEquals(await a.call("victim"), "victim-ok");
    for (const command of ["hang-at-load", "spin-at-load"]) {
      assertStatus(await a.fail(command), Status.NOT_FOUND);
    }
  });

  await t.step("a shutdown meanwhile ends every host, the loading ones too", async () => {
    const hosts = childPids(a.server.process.pid);
    assert(hosts.length >= 3, `a host per plugin file: ${hosts}`);
    const code = await within(10_000, "the server to exit on SIGTERM", a.server.stop("SIGTERM"));
    assertEquals(code, 0);
    await waitFor(() => hosts.every((p) => !alive(p)), 5000, `hosts ${hosts} to end`);
  });
});
