/** The examples run: examples/embed.ts as a real daemon, called through the CLI. */
import { assertEquals, assertIncludes } from "../assert.ts";
import { isLive } from "../../lib/listener.ts";
import { DENO, ROOT, runSockd, tempDir, waitFor } from "../_helpers.ts";

Deno.test("examples: embed.ts exposes its own state on a control socket", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/app.sock`;
  const daemon = new Deno.Command(DENO, {
    args: ["run", "-q", "-P=sockd", `${ROOT}examples/embed.ts`, path],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    await waitFor(() => isLive(path).catch(() => false), 15_000, "the example daemon");
    const state = await runSockd(["call", "--socket", path, "--json", "state"]);
    const result = JSON.parse(state.stdout).result;
    assertEquals(Object.keys(result), ["jobs", "level", "uptimeSeconds"]);
    assertEquals(result.level, "info");
    const app = await runSockd(["call", "--socket", path, "verbosity", "debug"]);
    assertEquals([app.code, app.stdout], [0, "verbosity is now debug\n"]);
    assertEquals(
      JSON.parse((await runSockd(["call", "--socket", path, "--json", "state"])).stdout).result.level,
      "debug",
    );
    const bad = await runSockd(["call", "--socket", path, "verbosity", "loud"]);
    assertEquals(bad.code, 1);
    assertIncludes(bad.stderr, 'unknown level "loud"');
    const ticks = await runSockd(["call", "--socket", path, "ticks", "--count", "2"]);
    assertEquals(ticks.stdout.trim().split("\n").map((l) => Object.keys(JSON.parse(l))), [["jobs"], [
      "jobs",
    ]]);
  } finally {
    daemon.kill("SIGINT");
    const out = await daemon.output();
    assertEquals(out.code, 0);
    assertEquals(new TextDecoder().decode(out.stderr).includes("command skipped"), false);
  }
});
