/**
 * CPU burnt where no deadline looks (fixtures: tests/fixtures/attacks/bgspin/):
 * a plugin whose child Workers spin from load on, with no call running, while
 * it answers its own calls promptly. Deadlines stop calls; something must
 * also stop a host that keeps CPUs busy between calls (a CPU budget, or
 * killing a host that uses far more CPU than its calls account for).
 */
import { assert, assertEquals } from "../../assert.ts";
import { attack, cpuSeconds, step } from "./_kit.ts";

const WINDOW_MS = 2000;

Deno.test("attacks/bgspin: a host that spins between calls does not keep the CPUs", async (t) => {
  await using a = await attack("bgspin", { pingIntervalMs: 100 });

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
});
