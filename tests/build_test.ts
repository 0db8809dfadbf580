import { compileArgs, denortHelp } from "../build.ts";
import { assertEquals, assertIncludes, assertThrows } from "./assert.ts";
import { DENO, ROOT } from "./_helpers.ts";

Deno.test("build: compiles main.ts with the sockd permission set and the runtime-loaded files", () => {
  assertEquals(compileArgs(), [
    "compile",
    "-P=sockd",
    "--include",
    "commands/",
    "--include",
    "lib/runner/",
    "--output",
    "dist/sockd",
    "main.ts",
  ]);
  const cross = compileArgs({ target: "aarch64-apple-darwin" });
  assertEquals(cross.slice(cross.indexOf("--target"), cross.indexOf("--target") + 4), [
    "--target",
    "aarch64-apple-darwin",
    "--output",
    "dist/sockd-aarch64-apple-darwin",
  ]);
  assertThrows(() => compileArgs({ target: "pdp11" }), /Unknown target "pdp11"/);
});

Deno.test("build: every permission the binary gets comes from the sockd set, never -A", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  assertEquals(typeof config.permissions.sockd, "object");
  const tasks = Object.values(config.tasks as Record<string, string>).join("\n");
  assertEquals(/(^|\s)(-A|--allow-all)(\s|$)/.test(tasks), false);
  assertEquals(config.tasks.sockd, "deno run -P=sockd main.ts");
});

Deno.test("build: a DENORT_BIN that does not exist stops with how to provide one", async () => {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-q", "-P=build", "build.ts"],
    cwd: ROOT,
    env: { DENORT_BIN: "/nonexistent/denort" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 1);
  assertIncludes(err, "DENORT_BIN=/nonexistent/denort is not a usable file");
  assertIncludes(err, "DENORT_BIN=/path/to/denort deno task build");
});

Deno.test("build: --dry-run prints the exact command", async () => {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-q", "-P=build", "build.ts", "--dry-run", "--target", "x86_64-apple-darwin"],
    cwd: ROOT,
    env: { DENORT_BIN: "/opt/denort" },
    stdout: "piped",
  }).output();
  assertEquals(
    new TextDecoder().decode(out.stdout).trim(),
    "DENORT_BIN=/opt/denort deno compile -P=sockd --include commands/ --include lib/runner/ --target x86_64-apple-darwin --output dist/sockd-x86_64-apple-darwin main.ts",
  );
  assertIncludes(denortHelp("x86_64-apple-darwin"), "--target x86_64-apple-darwin");
});
