/**
 * The busy loop (fixture: tests/fixtures/attacks/cpu/), on a quiet server of
 * its own: the call answers 104 at its 500 ms deadline, the host running the
 * loop is gone by deadline + grace (2000 ms), and afterwards neither the
 * server nor the plugin's new host uses the CPU: under 0.2 s each over 5 s,
 * read from /proc/<pid>/stat.
 */
import { Status } from "../../../lib/errors.ts";
import { assert, assertEquals, assertStatus } from "../../assert.ts";
import { waitFor } from "../../_helpers.ts";
import { alive, attack, cpuSeconds, step } from "./_kit.ts";

const DEADLINE_MS = 500;
const GRACE_MS = 2000;
const SLACK_MS = 1000;
const WINDOW_MS = 5000;

Deno.test("attacks/cpu: a busy loop is stopped at its deadline, its host killed, and the CPU is free", async (t) => {
  // Pings every 250 ms: enough to watch the server, little enough not to count in its CPU time.
  await using a = await attack("cpu", { pingIntervalMs: 250 });
  const server = a.server.process.pid;

  await step(
    t,
    a,
    "104 at the deadline; the host is gone by deadline + grace; the CPU is free for 5 s",
    async () => {
      assertEquals(await a.call("spin-ok"), "spin-ok", "its host started (hosts start on first use)");
      const old = (await a.plugin("spin.ts")).pid!;
      assert(old && old !== server && alive(old), `spin.ts runs in a host of its own: ${old}`);
      const t0 = performance.now();
      const err = await a.fail("spin");
      const took = performance.now() - t0;
      assertStatus(err, Status.TIMEOUT);
      assert(took >= DEADLINE_MS - 50 && took < DEADLINE_MS + 1000, `104 after ${took.toFixed(0)} ms`);
      await waitFor(() => !alive(old), DEADLINE_MS + GRACE_MS + SLACK_MS - took, `host ${old} to be killed`);
      const gone = performance.now() - t0;
      assert(gone <= DEADLINE_MS + GRACE_MS + SLACK_MS, `host gone after ${gone.toFixed(0)} ms`);

      const p = await a.waitPlugin(
        "spin.ts",
        (p) => p.state === "loaded" && !!p.pid && p.pid !== old,
        5000,
        "new host",
      );
      assertEquals(await a.call("spin-ok"), "spin-ok");
      const host = p.pid!;
      const s0 = cpuSeconds(server);
      const h0 = cpuSeconds(host);
      await new Promise((r) => setTimeout(r, WINDOW_MS));
      const serverCpu = cpuSeconds(server) - s0;
      const hostCpu = cpuSeconds(host) - h0;
      assert(serverCpu < 0.2, `the server used ${serverCpu.toFixed(2)} s of CPU in ${WINDOW_MS / 1000} s`);
      assert(hostCpu < 0.2, `the new host used ${hostCpu.toFixed(2)} s of CPU in ${WINDOW_MS / 1000} s`);
      assert(!alive(old), "the old host stays gone");
      assertEquals(await a.call("victim"), "victim-ok");
    },
    20,
  );
});
