/**
 * CPU burnt where no deadline looks (fixtures: tests/fixtures/attacks/bgspin/):
 * a plugin whose child Workers spin from load on, with no call running, while
 * it answers its own calls promptly. Deadlines stop calls; something must
 * also stop a host that keeps CPUs busy between calls (a CPU budget, or
 * killing a host that uses far more CPU than its calls account for). One
 * that spins on its own thread stops answering the server: it is killed.
 */
import { assert, assertEquals } from "../../assert.ts";
import { waitFor } from "../../_helpers.ts";
import { alive, attack, cpuSeconds, step } from "./_kit.ts";

const WINDOW_MS = 2000;
/** How long a host may not answer the server (it asks every 2 s) before it is killed: generous. */
const UNRESPONSIVE_MS = 8000;

Deno.test("attacks/bgspin: a host that spins between calls does not keep the CPUs", async (t) => {
  await using a = await attack("bgspin", { pingIntervalMs: 100 });
  // Started first, so that its host has stopped answering for a while by the last step.
  const idlePid = (await a.plugin("idle_spin.ts")).pid;
  assertEquals(await a.call("idle-spin"), "spinning");
  const idleSince = performance.now();

  await step(
    t,
    a,
    "over 2 s with no call running, the host uses under 0.5 s of CPU (or is ended)",
    async () => {
      assertEquals(await a.call("bg-spin"), "bg-spin");
      const pid = (await a.plugin("bg_spin.ts")).pid;
      assert(typeof pid === "number", "bg_spin.ts has a host");
      let before: number;
      try {
        before = cpuSeconds(pid);
      } catch {
        return; // already ended: nothing spins
      }
      await new Promise((r) => setTimeout(r, WINDOW_MS));
      let used = 0;
      try {
        used = cpuSeconds(pid) - before;
      } catch { /* ended meanwhile: counts as stopped */ }
      assert(
        used < 0.5,
        `the host of bg_spin.ts used ${used.toFixed(1)} s of CPU in ${WINDOW_MS / 1000} s with no call`,
      );
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
