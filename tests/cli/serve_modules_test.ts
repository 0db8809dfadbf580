/**
 * What `sockd serve` loads: a server keeps every module it loads for good,
 * so the client's, the supervisor's and the upgrade successor's modules load
 * only where they are used (the first use of each is tested where it is:
 * tests/e2e/supervise_test.ts, takeover_test.ts, upgrade_test.ts). And its
 * command line is parsed and helped as before, though `serve` declares only
 * its own subcommand.
 */
import { main } from "../../lib/cli/main.ts";
import { assert, assertEquals, assertIncludes } from "../assert.ts";
import { moduleGraph } from "../_module_graph.ts";

/** The modules `root` loads before it runs (its static imports, `import type` left out), repository-relative. */
async function staticGraph(root: string): Promise<string[]> {
  return (await moduleGraph(root)).staticFrom(root);
}

Deno.test("serve modules: the server loads no client, supervisor or successor module until it needs one", async () => {
  const cli = await staticGraph("lib/cli/main.ts");
  const serve = await staticGraph("lib/cli/serve.ts");
  for (const name of ["lib/cli/call_cli.ts", "lib/cli/fleet_call_cli.ts", "lib/cli/completions.ts"]) {
    assert(!cli.includes(name), `lib/cli/main.ts loads ${name}`);
  }
  assert(serve.includes("lib/server.ts"), serve.join(", "));
  for (
    const name of [
      "lib/client.ts",
      "lib/cli/successor.ts",
      "lib/supervise/supervisor.ts",
      "lib/cli/call_cli.ts",
    ]
  ) {
    assert(!serve.includes(name), `lib/cli/serve.ts loads ${name}`);
  }
});

/** main() with its output captured. */
async function cli(args: string[]) {
  let out = "", err = "";
  const code = await main(args, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

Deno.test("serve modules: `serve --help` and serve's usage errors are what the full command line gives", async () => {
  const own = await cli(["serve", "--help"]);
  // `help serve` builds every subcommand, as before.
  const full = await cli(["help", "serve"]);
  assertEquals(own.code, 0, own.err);
  assertIncludes(own.out, "Usage: sockd serve [options]");
  assertIncludes(own.out, "--supervise <file>");
  assertEquals(own.out, full.out);
  const bad = await cli(["serve", "--plugin", "x"]);
  assertEquals(bad.code, 2);
  assertEquals(bad.err, `sockd: unknown option '--plugin' (did you mean "--plugins"?)\n`);
  const all = await cli(["--help"]);
  for (const sub of ["serve", "call", "repl", "bridge", "completions", "version", "init"]) {
    assertIncludes(all.out, `\n  ${sub}`);
  }
});
