/**
 * Attacks through module loading (fixtures: tests/fixtures/attacks/modules/).
 *
 * Deno loads a literal import (a string, a template literal without
 * substitutions, a Wasm module's imports) without a permission check, so
 * every import that leaves the plugin directory, or is remote, must be
 * refused before the plugin runs: the plugin is `failed`, the error names the
 * import and the file, its commands are unknown (101), and nothing is
 * fetched. One server, with a fresh DENO_DIR (a download would land in it)
 * and JSR_URL pointed at a canary that records requests. Imports built at
 * run time are denied by the plugin's permissions (105).
 */
import { Status } from "../../../lib/errors.ts";
import { assert, assertEquals, assertIncludes, assertStatus } from "../../assert.ts";
import { ROOT } from "../../_helpers.ts";
import { alive, assertNoSecret, type Attack, attack, CANARY_PACKAGE, step } from "./_kit.ts";

const lockBefore = await Deno.readTextFile(`${ROOT}deno.lock`);

async function setup({ dir, secretDir, canary }: { dir: string; secretDir: string; canary: string }) {
  await Deno.symlink(secretDir, `${dir}/link`);
  await Deno.symlink(`${secretDir}/outside_plugin.ts`, `${dir}/symlinked_plugin.ts`);
  await Deno.writeFile(
    `${dir}/evil.wasm`,
    wasmImporting(["npm:is-number@7.0.0", `${canary}/wasm.js`]),
  );
  await Deno.writeFile(`${dir}/evil_local.wasm`, wasmImporting(["../secret/outside_module.js"]));
}

/**
 * A WebAssembly module that imports a function `x` from each of `modules`.
 * Deno loads a Wasm module's imports as ES modules, without a permission
 * check, like a literal import: a lexer of JS and TS sees none of them.
 */
function wasmImporting(modules: string[]): Uint8Array {
  const leb = (n: number) => {
    const out: number[] = [];
    do {
      const b = n & 0x7f;
      n >>>= 7;
      out.push(n ? b | 0x80 : b);
    } while (n);
    return out;
  };
  const name = (s: string) => {
    const b = [...new TextEncoder().encode(s)];
    return [...leb(b.length), ...b];
  };
  const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
  const imports = [...leb(modules.length), ...modules.flatMap((m) => [...name(m), ...name("x"), 0x00, 0x00])];
  const types = [0x01, 0x60, 0x00, 0x00]; // one type: () -> ()
  return new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...section(1, types), ...section(2, imports)]);
}

/** Asserts `file` failed to load naming `specifier` and `importer`, and `command` is unknown. */
async function assertRefused(a: Attack, file: string, command: string, specifier: string, importer = file) {
  const p = await a.plugin(file);
  assertEquals(p.state, "failed", `${file} must not load: ${JSON.stringify(p)}`);
  assertIncludes(p.error ?? "", `"${specifier}"`, `the error names the import: ${p.error}`);
  assertIncludes(p.error ?? "", importer, `the error names the importing file: ${p.error}`);
  assertNoSecret(a, p.error);
  const err = await a.fail(command);
  assertStatus(err, Status.NOT_FOUND);
  assertNoSecret(a, err.message);
}

/** What is wrong with how `command` was denied (105, a permission denial naming `parts`, no secret), if anything. */
async function denialProblem(a: Attack, command: string, ...parts: string[]): Promise<string | undefined> {
  const err = await a.fail(command).catch((e) => e as Error);
  const problem = !("status" in err) || err.status !== Status.HANDLER_ERROR
    ? `not 105: ${err.message}`
    : err.message.includes(a.secret)
    ? "the secret leaked"
    : !/requires (read|import|net|env|run) access|denied|not allowed|refused|NotCapable|--cached-only/i.test(
        err.message,
      )
    ? `not a permission denial: ${err.message}`
    : parts.find((p) => !err.message.includes(p));
  return problem === undefined ? undefined : `${command}: ${problem.slice(0, 200)}`;
}

/** Asserts each `[command, ...parts]` is denied (all are tried; every failure is reported). */
async function assertDenied(a: Attack, cases: string[][]) {
  const problems = [];
  for (const [command, ...parts] of cases) problems.push(await denialProblem(a, command!, ...parts));
  assertEquals(problems.filter((p) => p !== undefined), []);
}

Deno.test("attacks/modules: imports that leave the plugin directory or are remote are refused at load; nothing is fetched", async (t) => {
  await using a = await attack("modules", { freshDenoDir: true, jsrCanary: true, setup });
  const refused: [string, string, string, string?][] = [
    ["abs_etc_text.ts", "abs-etc-text", "/etc/passwd"],
    ["abs_json.ts", "abs-json", `${a.secretDir}/secret.json`],
    ["file_url.ts", "file-url", `file://${a.secretDir}/secret.json`],
    ["dotdot.ts", "dotdot", "../secret/secret.json"],
    ["dotdot_deep.ts", "dotdot-deep", "./sub/../../secret/secret.txt"],
    ["helper_escape.ts", "helper-escape", "../secret/secret.txt", "_escape_helper.ts"],
    ["symlink_escape.ts", "symlink-escape", "./link/secret.json"],
    ["npm_static.ts", "npm-static", "npm:is-number@7.0.0"],
    ["npm_dynamic.ts", "npm-dynamic", "npm:is-number@7.0.0"],
    ["jsr_dynamic.ts", "jsr-dynamic", "jsr:@std/path@1"],
    ["jsr_sockd.ts", "jsr-sockd", "jsr:@sockd/sockd@0.0.1"],
    ["http_static.ts", "http-static", `${a.canary.origin}/evil.js`],
    ["https_dynamic.ts", "https-dynamic", "https://deno.land/std@0.224.0/path/mod.ts"],
    ["data_literal.ts", "data-literal", "data:text/javascript,export default 'data-ran'"],
    ["blob_literal.ts", "blob-literal", "blob:null/00000000-0000-0000-0000-000000000000"],
    // Deno loads a template literal without substitutions as a literal import (checked: it leaks).
    ["tpl_literal.ts", "tpl-literal", `${a.secretDir}/secret.txt`],
    ["dotdot_encoded.ts", "dotdot-encoded", "./%2e%2e/secret/secret.json"],
    // Bare specifiers resolve through the server's import map (npm: packages): not the plugin's to use.
    ["bare_mapped.ts", "bare-mapped", "commander"],
    ["bare_traversal.ts", "bare-traversal", "msgpackr/../../../../../../../../../etc/passwd"],
  ];
  for (const [file, command, specifier, importer] of refused) {
    await step(t, a, `${file}: refused at load (${specifier.slice(0, 40)})`, async () => {
      await assertRefused(a, file, command, specifier, importer);
    });
  }

  await step(t, a, "Wasm modules importing a file outside, npm: or http: are refused", async () => {
    const cases = [["wasm_local.ts", "wasm-local", "evil_local.wasm"], [
      "wasm_remote.ts",
      "wasm-remote",
      "evil.wasm",
    ]];
    for (const [file, command, wasm] of cases) {
      const p = await a.plugin(file!);
      const err = await a.fail(command!);
      assert(!err.message.includes("PWNED"), `code outside the directory ran: ${err.message}`);
      assertEquals(p.state, "failed", `${file} must not load: ${JSON.stringify(p)}`);
      assertIncludes(p.error ?? "", wasm!);
      assertStatus(err, Status.NOT_FOUND);
    }
  });

  await step(
    t,
    a,
    "a plugin file that is a symlink to a file outside the directory does not load",
    async () => {
      const p = await a.plugin("symlinked_plugin.ts");
      assertEquals(p.state, "failed", JSON.stringify(p));
      assert(/symlinked_plugin\.ts|outside_plugin\.ts/.test(p.error ?? ""), `names the file: ${p.error}`);
      assertNoSecret(a, p.error);
      assertStatus(await a.fail("symlinked-plugin"), Status.NOT_FOUND);
    },
  );

  await step(
    t,
    a,
    "controls: sockd types, node: built-ins, own helpers and a granted import prefix load, in a host process",
    async () => {
      assertEquals(await a.call("ok-control"), "a/helped");
      assertEquals(await a.call("granted-shared"), "shared-ok");
      const p = await a.plugin("ok_control.ts");
      assertEquals([p.state, p.runner], ["loaded", "process"]);
      assert(p.pid && p.pid !== a.server.process.pid && alive(p.pid), `its own live host process: ${p.pid}`);
    },
  );

  await step(t, a, "imports built at run time are denied by the plugin's permissions (105)", async () => {
    await assertDenied(a, [
      ["computed-abs", '"/etc/passwd"'],
      ["computed-secret", "secret.json"],
      ["computed-npm"],
      ["computed-jsr"],
      ["computed-http"],
      ["computed-data"],
      ["eval-import"],
      ["create-require"],
    ]);
  });

  await step(
    t,
    a,
    "child workers, which could load modules of their own, do not exist for a plugin",
    async () => {
      for (const command of ["blob-worker", "worker-outside", "worker-own-dir"]) {
        const err = await a.fail(command);
        assertEquals(err.status, Status.HANDLER_ERROR, command);
        assertNoSecret(a, err.message);
        assert(err.message.includes("Worker is not defined"), `${command}: ${err.message}`);
      }
    },
  );

  await step(t, a, "nothing was downloaded or fetched, and the lockfile is untouched", async () => {
    const npm = `${a.tmp}/deno_dir/npm/registry.npmjs.org`;
    const cached = [...Deno.readDirSync(npm)].map((e) => e.name);
    assert(!cached.includes(CANARY_PACKAGE), `${CANARY_PACKAGE} was downloaded into DENO_DIR: ${cached}`);
    let remote: string[] = [];
    try {
      remote = [...Deno.readDirSync(`${a.tmp}/deno_dir/remote`)].map((e) => e.name);
    } catch { /* no remote cache: nothing fetched */ }
    assertEquals(remote, [], "no remote module cache was written");
    assertEquals(a.canary.hits, [], "the canary (http: import, JSR_URL) was never asked");
    assertEquals(await Deno.readTextFile(`${ROOT}deno.lock`), lockBefore);
  });

  await step(t, a, "reload --all keeps refusing and the other plugins keep serving", async () => {
    const err = await a.fail("reload", ["--all"]);
    assertStatus(err, Status.HANDLER_ERROR);
    assertIncludes(err.message, "npm_static.ts");
    assertEquals(await a.call("ok-control"), "a/helped");
    assertEquals(await a.call("granted-shared"), "shared-ok");
    assertEquals((await a.plugin("npm_static.ts")).state, "failed");
  });
});
