/**
 * Which files of a plugin directory are plugins (README: "Files starting
 * with `_` or `.`, `*.d.ts` and `*_test.ts` are not loaded").
 */
import { isPluginFile, listPluginFiles } from "../../lib/plugins/loader.ts";
import { assertEquals } from "../assert.ts";
import { tempDir } from "../_helpers.ts";

Deno.test("plugin loader: only *.ts and *.js files count; _private, dot-files, *.d.ts and *_test.* do not", async () => {
  await using tmp = await tempDir();
  const files = [
    "a.ts",
    "b.js",
    "with_underscore.ts",
    "_private.ts",
    ".hidden.ts",
    ".hidden.js",
    "types.d.ts",
    "a_test.ts",
    "b_test.js",
    "notes.md",
    "data.json",
    "tsconfig.ts.bak",
  ];
  for (const f of files) await Deno.writeTextFile(`${tmp.dir}/${f}`, "export default [];\n");
  await Deno.mkdir(`${tmp.dir}/folder.ts`);
  await Deno.symlink(`${tmp.dir}/a.ts`, `${tmp.dir}/linked.ts`);
  assertEquals(
    await listPluginFiles(tmp.dir),
    ["a.ts", "b.js", "linked.ts", "with_underscore.ts"].map((f) => `${tmp.dir}/${f}`),
  );
  assertEquals(files.filter(isPluginFile), ["a.ts", "b.js", "with_underscore.ts"]);
});
