/**
 * Plugins that never finish loading (fixtures:
 * tests/fixtures/attacks/slowload/): one awaits forever at its top level,
 * one spins there. Plugin files load side by side, so together they hold the
 * start up for one load timeout (10 s), not one each; then their hosts are
 * killed and the others serve. (Serving before every plugin has loaded is not
 * done: a start still means "plugins loaded", which clients rely on.)
 */
import { Status } from "../../../lib/errors.ts";
import { assert, assertEquals, assertStatus } from "../../assert.ts";
import { waitFor } from "../../_helpers.ts";
import { alive, attack, childPids, step, within } from "./_kit.ts";

Deno.test("attacks/slowload: plugins that never finish loading hold up neither the start nor the shutdown", async (t) => {
  const t0 = performance.now();
  await using a = await attack("slowload");
  const started = performance.now() - t0;

  await step(
    t,
    a,
    "the server serves the other plugins after one load timeout, not one per hanging plugin",
    async () => {
      assert(
        started < 10_000 + 4_000,
        `the server took ${started.toFixed(0)} ms to serve (two plugins hang in their load)`,
      );
      assertEquals(await a.call("victim"), "victim-ok");
      for (const command of ["hang-at-load", "spin-at-load"]) {
        assertStatus(await a.fail(command), Status.NOT_FOUND);
      }
    },
  );

  await t.step("the hanging hosts were killed at the load timeout; a shutdown ends the rest", async () => {
    const hosts = childPids(a.server.process.pid);
    assertEquals(hosts.length, 1, `only the loaded plugin's host is left: ${hosts}`);
    const code = await within(10_000, "the server to exit on SIGTERM", a.server.stop("SIGTERM"));
    assertEquals(code, 0);
    await waitFor(() => hosts.every((p) => !alive(p)), 5000, `hosts ${hosts} to end`);
  });
});
