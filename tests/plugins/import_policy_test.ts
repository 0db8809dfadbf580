/**
 * The import policy: what a plugin's module graph may reach, checked from
 * the source before a host starts. Each refused case is an import Deno would
 * otherwise load without any permission check.
 */
import { checkPluginImports, moduleImports } from "../../lib/plugins/import_policy.ts";
import { assertEquals, assertIncludes, caught } from "../assert.ts";
import { tempDir } from "../_helpers.ts";

async function writeAll(dir: string, files: Record<string, string>) {
  for (const [name, text] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${name}`.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
}

Deno.test("import policy: the kinds of import Deno loads are found; type-only ones are not", () => {
  const source = `
    import type { A } from "./types_only.ts";
    import { type B } from "./kept_for_side_effects.ts";
    import c from "./static.ts";
    import "./bare_side_effect.ts";
    export * from "./star.ts";
    export { d } from "./named.ts";
    export type { E } from "./type_export.ts";
    import j from "./data.json" with { type: "json" };
    import x = require("./ts_require.ts");
    type T = typeof import("./type_query.ts");
    const lit = await import("./dynamic.ts");
    const tpl = await import(\`./template.ts\`);
    const built = await import("./" + name);
    const txt = await import("/etc/passwd", { with: { type: "text" } });
    @decorator class K { accessor z = 1 }
    function f<T,>(a: T): T { return a as T; }
  `;
  assertEquals(moduleImports(source, "/p/plugin.ts").sort(), [
    "./bare_side_effect.ts",
    "./data.json",
    "./dynamic.ts",
    "./kept_for_side_effects.ts",
    "./named.ts",
    "./star.ts",
    "./static.ts",
    "./template.ts",
    "./ts_require.ts",
    "/etc/passwd",
  ]);
});

Deno.test("import policy: files in the plugin directory, node: built-ins and sockd are allowed", async () => {
  await using tmp = await tempDir();
  await writeAll(tmp.dir, {
    "p.ts": `import type { Command } from "sockd"; import { join } from "node:path";
      import { helper } from "./lib/helper.ts"; import cfg from "./cfg.json" with { type: "json" };
      export default { name: "p", summary: "x", run: () => helper() + join("a", "b") + cfg.x } satisfies Command;`,
    "lib/helper.ts": `export { other as helper } from "./other.ts";`,
    "lib/other.ts": `export const other = () => "ok";`,
    "cfg.json": `{"x": 1}`,
  });
  const files = await checkPluginImports(`${tmp.dir}/p.ts`, {
    dir: tmp.dir,
    configFile: `${tmp.dir}/sockd.json`,
  });
  assertEquals(files.length, 4);
});

Deno.test("import policy: each way out of the directory is refused, naming the import, the module and the grant", async (t) => {
  await using tmp = await tempDir();
  const dir = `${tmp.dir}/cmds`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(`${tmp.dir}/secret.ts`, `export default "secret";`);
  await Deno.symlink(`${tmp.dir}/secret.ts`, `${dir}/link.ts`);
  await Deno.symlink(tmp.dir, `${dir}/up`);
  const cases: [string, string, string][] = [
    ["absolute", `import s from "${tmp.dir}/secret.ts";`, `${tmp.dir}/secret.ts`],
    ["dot-dot", `import s from "../secret.ts";`, "../secret.ts"],
    ["file URL", `import s from "file://${tmp.dir}/secret.ts";`, `file://${tmp.dir}/secret.ts`],
    ["symlinked file", `import s from "./link.ts";`, "./link.ts"],
    ["symlinked directory", `import s from "./up/secret.ts";`, "./up/secret.ts"],
    ["literal dynamic text", `await import("/etc/passwd", { with: { type: "text" } });`, "/etc/passwd"],
    ["literal dynamic in dead code", `if (false) await import("/etc/shadow");`, "/etc/shadow"],
    ["npm", `import pad from "npm:left-pad@1.3.0";`, "npm:left-pad@1.3.0"],
    ["jsr", `import * as a from "jsr:@std/assert";`, "jsr:@std/assert"],
    ["https", `import x from "https://example.com/x.ts";`, "https://example.com/x.ts"],
    [
      "data URL",
      `await import("data:text/javascript,export {default} from '/etc/passwd'");`,
      "data:text/javascript",
    ],
    ["blob", `import x from "blob:null/1";`, "blob:null/1"],
    ["bare name", `import x from "left-pad";`, "left-pad"],
    ["re-export", `export * from "/etc/hosts";`, "/etc/hosts"],
  ];
  for (const [what, source, spec] of cases) {
    await t.step(what, async () => {
      await Deno.writeTextFile(`${dir}/evil.ts`, source);
      const err = await caught(
        checkPluginImports(`${dir}/evil.ts`, { dir, configFile: `${dir}/sockd.json` }),
      );
      assertIncludes(err.message, `Import "${spec}`);
      assertIncludes(err.message, " in evil.ts is not allowed");
      assertIncludes(err.message, `for evil.ts in ${dir}/sockd.json`);
    });
  }
  await t.step("an escape in a helper module names the helper", async () => {
    await Deno.writeTextFile(`${dir}/_helper.ts`, `export { default } from "../secret.ts";`);
    await Deno.writeTextFile(`${dir}/evil.ts`, `import s from "./_helper.ts"; export default s;`);
    const err = await caught(checkPluginImports(`${dir}/evil.ts`, { dir, configFile: `${dir}/sockd.json` }));
    assertIncludes(err.message, 'Import "../secret.ts" in _helper.ts is not allowed');
    assertIncludes(err.message, "for evil.ts in");
  });
  await t.step("a plugin file that is itself a symlink out of the directory", async () => {
    const err = await caught(checkPluginImports(`${dir}/link.ts`, { dir, configFile: `${dir}/sockd.json` }));
    assertIncludes(err.message, `outside ${await Deno.realPath(dir)}`);
  });
});

Deno.test('import policy: an "import" grant allows what it names, and only that', async () => {
  await using tmp = await tempDir();
  const dir = `${tmp.dir}/cmds`;
  await writeAll(tmp.dir, {
    "shared/util.ts": `export const u = 1;`,
    "shared/sub/deep.ts": `import x from "/etc/passwd"; export default x;`,
    "cmds/a.ts":
      `import { u } from "${tmp.dir}/shared/util.ts"; import z from "npm:zod@3.23.8"; export default u;`,
    "cmds/b.ts": `import d from "${tmp.dir}/shared/sub/deep.ts"; export default d;`,
  });
  const options = { dir, configFile: `${dir}/sockd.json`, allow: [`${tmp.dir}/shared/`, "npm:zod@3"] };
  assertEquals((await checkPluginImports(`${dir}/a.ts`, options)).length, 2);
  const err = await caught(checkPluginImports(`${dir}/b.ts`, options));
  assertIncludes(err.message, 'Import "/etc/passwd" in');
  assertIncludes(err.message, "deep.ts is not allowed");
});

Deno.test("import policy: source that does not parse is refused with the file and position", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/bad.ts`, `export default {{;`);
  const err = await caught(checkPluginImports(`${tmp.dir}/bad.ts`, { dir: tmp.dir, configFile: "x" }));
  assertIncludes(err.message, "SyntaxError: ");
  assertIncludes(err.message, "(1:");
  assertIncludes(err.message, " in bad.ts");
});

Deno.test("import policy: a grant covers what is inside what it names, not what merely starts the same", async () => {
  await using tmp = await tempDir();
  const dir = `${tmp.dir}/cmds`;
  await Deno.mkdir(dir);
  await Deno.mkdir(`${tmp.dir}/lib`);
  await Deno.writeTextFile(`${tmp.dir}/lib-evil.ts`, `export default 1;`);
  const options = {
    dir,
    configFile: `${dir}/sockd.json`,
    allow: ["npm:zod@3", `${tmp.dir}/lib`, "https://example.com/lib"],
  };
  const cases: [string, boolean][] = [
    ["npm:zod@3", true],
    ["npm:zod@3.23.8", true],
    ["npm:zod@3/locales", true],
    ["npm:zod@30.0.0", false],
    ["npm:zodiac", false],
    ["https://example.com/lib/x.ts", true],
    ["https://example.com/lib-evil.js", false],
    [`${tmp.dir}/lib-evil.ts`, false],
  ];
  for (const [spec, ok] of cases) {
    await Deno.writeTextFile(`${dir}/p.ts`, `import x from ${JSON.stringify(spec)}; export default x;`);
    const result = await checkPluginImports(`${dir}/p.ts`, options).then(() => "allowed", (e) => e.message);
    if (ok) assertEquals(result, "allowed", spec);
    else assertIncludes(result, `Import "${spec}" in p.ts is not allowed`);
  }
});

Deno.test("import policy: WebAssembly modules and node:worker_threads are refused (they get around the checks)", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/m.wasm`, "");
  const options = { dir: tmp.dir, configFile: `${tmp.dir}/sockd.json` };
  await Deno.writeTextFile(`${tmp.dir}/w.ts`, `import * as m from "./m.wasm"; export default m;`);
  assertIncludes(
    (await caught(checkPluginImports(`${tmp.dir}/w.ts`, options))).message,
    'Import "./m.wasm" in w.ts',
  );
  await Deno.writeTextFile(
    `${tmp.dir}/t.ts`,
    `import { Worker } from "node:worker_threads"; export default Worker;`,
  );
  assertIncludes(
    (await caught(checkPluginImports(`${tmp.dir}/t.ts`, options))).message,
    'Import "node:worker_threads" in t.ts is not allowed: it starts threads sockd cannot stop',
  );
});
