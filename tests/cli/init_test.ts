/**
 * `sockd init`: the plugin directory it writes type-checks on its own — no
 * path to this checkout in it — so it survives moving the directory (and the
 * checkout); re-running refreshes the copy of sockd's types and keeps the
 * author's files.
 */
import { assertEquals, assertIncludes } from "../assert.ts";
import { DENO, ROOT, runSockd, tempDir } from "../_helpers.ts";

async function check(dir: string, file: string) {
  const out = await new Deno.Command(DENO, {
    args: ["check", "-q", file],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

async function filesUnder(dir: string, prefix = ""): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    if (e.isDirectory) names.push(...await filesUnder(dir, `${prefix}${e.name}/`));
    else names.push(`${prefix}${e.name}`);
  }
  return names.sort();
}

Deno.test("init: the plugin directory names no checkout path and type-checks after being moved", async () => {
  await using tmp = await tempDir();
  const first = `${tmp.dir}/first`;
  const r = await runSockd(["init", first]);
  assertEquals([r.code, r.stderr], [0, ""]);
  assertEquals(await filesUnder(first), [
    ".sockd/command.ts",
    ".sockd/log.ts",
    ".sockd/mod.ts",
    ".sockd/server_view.ts",
    "deno.json",
    "hello.ts",
    "sockd.json",
  ]);
  assertEquals(JSON.parse(await Deno.readTextFile(`${first}/deno.json`)).imports, {
    sockd: "./.sockd/mod.ts",
  });
  for (const f of await filesUnder(first)) {
    assertEquals((await Deno.readTextFile(`${first}/${f}`)).includes(ROOT), false, `${f} names the checkout`);
  }
  assertIncludes(
    r.stdout,
    `\nNext:\n  cd ${first} && deno check hello.ts\n  sockd serve --plugins ${first}\n`,
  );
  assertIncludes(r.stdout, `(no sockd on PATH? run \`deno task install\` in ${ROOT})`);

  const moved = `${tmp.dir}/elsewhere/moved`;
  await Deno.mkdir(`${tmp.dir}/elsewhere`);
  await Deno.rename(first, moved);
  assertEquals(await check(moved, "hello.ts"), { code: 0, stderr: "" });
  await Deno.writeTextFile(
    `${moved}/typo.ts`,
    `import type { Command, Logger } from "sockd";\n` +
      `const log: Logger | undefined = undefined;\n` +
      `export default { name: "t", summary: "x", run: (ctx) => ctx.argz ?? log } satisfies Command;\n`,
  );
  const bad = await check(moved, "typo.ts");
  assertEquals(bad.code, 1, "a typo in a plugin is a type error");
  assertIncludes(bad.stderr, "Property 'argz' does not exist");
});

Deno.test("init: running it again refreshes .sockd/ and keeps the author's files", async () => {
  await using tmp = await tempDir();
  const dir = `${tmp.dir}/mine`;
  assertEquals((await runSockd(["init", dir])).code, 0);
  await Deno.writeTextFile(`${dir}/hello.ts`, "// mine\n");
  await Deno.writeTextFile(`${dir}/.sockd/log.ts`, "// stale\n");
  const again = await runSockd(["init", dir]);
  assertEquals(again.code, 0, again.stderr);
  assertIncludes(again.stdout, `kept    ${dir}/hello.ts (exists)\n`);
  assertIncludes(again.stdout, `updated ${dir}/.sockd/log.ts\n`);
  assertIncludes(again.stdout, `kept    ${dir}/.sockd/command.ts (up to date)\n`);
  assertEquals(await Deno.readTextFile(`${dir}/hello.ts`), "// mine\n");
  assertIncludes(await Deno.readTextFile(`${dir}/.sockd/log.ts`), "export interface Logger");
});
