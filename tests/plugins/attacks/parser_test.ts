/**
 * Attacks on the import scan itself (fixtures: tests/fixtures/attacks/parser/
 * plus two files the test writes): the server reads every plugin's source to
 * find its imports before the plugin runs, so the source is hostile input to
 * the server. A value nested 100,000 deep must fail that plugin with a clear
 * error, not the server's stack; a 3.8 MB array literal (under the 4 MiB
 * module limit) must not cost the server hundreds of MiB: parse it where the
 * plugin's memory cap applies, or with a lexer that holds no syntax tree.
 */
import { assert, assertEquals } from "../../assert.ts";
import { assertMatch, attack, rssMiB, step } from "./_kit.ts";

/** Resident memory a server with only small plugins settles at is ~70-80 MiB here. */
const RSS_LIMIT_MIB = 300;

async function setup({ dir }: { dir: string }) {
  await Deno.writeTextFile(
    `${dir}/deep_ast.ts`,
    `export default ${"[".repeat(100_000)}${"]".repeat(100_000)};\n`,
  );
  await Deno.writeTextFile(
    `${dir}/wide_ast.ts`,
    `const x = [${
      "0,".repeat(1_900_000)
    }];\nexport default { name: "wide", summary: "Wide", run: () => x.length };\n`,
  );
}

Deno.test("attacks/parser: a plugin's source cannot overflow or bloat the server that scans it", async (t) => {
  const t0 = performance.now();
  await using a = await attack("parser", { setup });
  const started = performance.now() - t0;

  await step(
    t,
    a,
    "a plugin nested 100,000 deep fails to load with a clear error; the others load",
    async () => {
      const p = await a.plugin("deep_ast.ts");
      assertEquals(p.state, "failed");
      assertMatch(p.error ?? "", /deep_ast\.ts/);
      assertEquals(await a.call("victim"), "victim-ok");
    },
  );

  await step(
    t,
    a,
    "a 3.8 MB plugin costs the server neither hundreds of MiB nor seconds: it is refused unparsed",
    async () => {
      const rss = rssMiB(a.server.process.pid);
      assert(rss < RSS_LIMIT_MIB, `the server holds ${rss.toFixed(0)} MiB after scanning wide_ast.ts`);
      assert(started < 5000, `the server took ${started.toFixed(0)} ms to serve`);
      const p = await a.plugin("wide_ast.ts");
      assertEquals(p.state, "failed");
      assert(String(p.error).includes("wide_ast.ts is larger than 1048576 bytes"), `error: ${p.error}`);
    },
  );
});
