/** The mutant runner refuses a list that no longer fits the code, naming the entry and why. */
import { assertEquals } from "../assert.ts";
import { tempDir } from "../_helpers.ts";
import { checkList } from "./main.ts";
import type { Mutant } from "./mutants.ts";

Deno.test("mutants: a find that is missing or ambiguous, a missing test file, a name used twice are refused", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(`${tmp.dir}/lib`);
  await Deno.writeTextFile(`${tmp.dir}/lib/a.ts`, "const x = 1;\nconst y = 1;\nreturn x;\n");
  await Deno.writeTextFile(`${tmp.dir}/a_test.ts`, "");
  const m = (name: string, find: string, tests = ["a_test.ts"], file = "lib/a.ts"): Mutant => ({
    name,
    file,
    find,
    replace: "0",
    tests,
  });
  const root = `${tmp.dir}/`;
  assertEquals(await checkList([m("fits", "return x;")], root), []);
  assertEquals(await checkList([m("gone", "return z;"), m("twice", " = 1;")], root), [
    'gone: "return z;" occurs 0 times in lib/a.ts, not once',
    'twice: " = 1;" occurs 2 times in lib/a.ts, not once',
  ]);
  assertEquals(await checkList([m("fits", "return x;", ["b_test.ts"]), m("fits", "const y")], root), [
    "fits: test file b_test.ts does not exist",
    "fits: the name is used twice",
  ]);
  const [noFile] = await checkList([m("moved", "x", ["a_test.ts"], "lib/b.ts")], root);
  assertEquals(noFile?.startsWith("moved: cannot read lib/b.ts"), true, noFile);
});
