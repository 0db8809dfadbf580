/**
 * A plugin that tries to outlive the server (fixtures:
 * tests/fixtures/attacks/lifecycle/): it ignores SIGTERM, SIGINT and SIGHUP
 * and keeps its event loop busy; another blinds the host protocol code in its
 * Worker to the end of the pipes and neuters exit. When the server stops — shut down by
 * SIGTERM, or killed outright with SIGKILL — no host process is left behind.
 */
import { assert, assertEquals } from "../../assert.ts";
import { waitFor } from "../../_helpers.ts";
import { alive, type Attack, attack, within } from "./_kit.ts";

const GONE_MS = 5000;

async function hostPids(a: Attack): Promise<number[]> {
  assertEquals(await a.call("immortal"), "immortal");
  assertEquals(await a.call("plain"), "plain");
  assertEquals(await a.call("undying"), "undying");
  const pids = (await a.plugins()).map((p) => p.pid);
  assert(pids.length === 3 && pids.every((p) => typeof p === "number" && alive(p)), JSON.stringify(pids));
  return pids as number[];
}

Deno.test("attacks/lifecycle: no host outlives the server, even one that ignores SIGTERM", async (t) => {
  await t.step("server shut down with SIGTERM: it exits, and every host is gone", async () => {
    await using a = await attack("lifecycle");
    const pids = await hostPids(a);
    const code = await within(10_000, "the server to exit on SIGTERM", a.server.stop("SIGTERM"));
    assertEquals(code, 0, a.server.stderr().slice(-2000));
    await waitFor(() => pids.every((p) => !alive(p)), GONE_MS, `hosts ${pids} to end after the server`);
  });

  await t.step("server killed with SIGKILL: every host notices and ends", async () => {
    await using a = await attack("lifecycle");
    const pids = await hostPids(a);
    await a.server.stop("SIGKILL");
    // (The fixtures end themselves after 20 s, so a failure leaves nothing running for long.)
    await waitFor(() => pids.every((p) => !alive(p)), GONE_MS, `orphaned hosts ${pids} to end`);
  });
});
