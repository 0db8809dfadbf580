/**
 * CPU burnt where no deadline looks (fixtures: tests/fixtures/attacks/bgspin/):
 * a plugin whose child Workers would spin from load on, with no call running,
 * while it answers its own calls promptly: plugins get no Worker (nor
 * node:worker_threads, refused at load), so it does not load. One that
 * spins on its own thread stops answering the server: it is killed.
 */
import { assert, assertEquals } from "../../assert.ts";
import { waitFor } from "../../_helpers.ts";
import { alive, attack, step } from "./_kit.ts";

/**
 * How long a host may not answer the server before it is killed (unresponsiveMs, 8 s), plus room for the
 * next ping, the kill and its exit on a loaded machine (CI once saw it take just over 2 s more).
 */
const UNRESPONSIVE_MS = 8000 + 5000;

Deno.test("attacks/bgspin: a host that spins between calls does not keep the CPUs", async (t) => {
  await using a = await attack("bgspin", { pingIntervalMs: 100 });
  // Started first, so that its host has stopped answering for a while by the last step.
  assertEquals(await a.call("idle-spin"), "spinning");
  // Read after the call: hosts start on first use.
  const idlePid = (await a.plugin("idle_spin.ts")).pid;
  const idleSince = performance.now();

  await step(
    t,
    a,
    "child Workers, which would spin on between calls, do not exist for a plugin: it fails to load",
    async () => {
      const p = await a.plugin("bg_spin.ts");
      assertEquals(p.state, "failed");
      assert(String(p.error).includes("Worker is not defined"), `error: ${p.error}`);
      assertEquals(await a.call("victim"), "victim-ok");
    },
    10,
  );

  await step(
    t,
    a,
    "a host that spins on its own thread with no call (and so stops answering) is killed",
    async () => {
      assert(typeof idlePid === "number", "idle_spin.ts has a host");
      await waitFor(
        () => !alive(idlePid),
        Math.max(1000, UNRESPONSIVE_MS - (performance.now() - idleSince)),
        `host ${idlePid} to be killed`,
      );
      await a.waitPlugin(
        "idle_spin.ts",
        (p) => p.state === "loaded" && p.pid !== idlePid,
        5000,
        "a new host",
      );
      assertEquals(typeof await a.call("idle-spin-pid"), "number");
    },
  );
});
