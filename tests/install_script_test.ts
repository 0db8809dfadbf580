/**
 * What install.ts writes: the launcher (the bundle of the plain `sockd
 * call` behind a `#!<deno> -qP=sockd` line) and `bin/sockd` naming it, the
 * bundle behind a `#!/usr/bin/env -S` line, and when it falls back to the
 * shell script. tests/e2e/install_test.ts runs the installed program itself.
 */
import {
  bundledScriptText,
  bundleEntry,
  eagerFunctions,
  launchedScriptText,
  LAUNCHER,
  launcherText,
  SHIM_MARK,
  shimText,
} from "../_install_scripts.ts";
import { assertEquals, assertIncludes } from "./assert.ts";
import { DENO, ROOT, tempDir } from "./_helpers.ts";

Deno.test("install: the bundled script's #! line runs it with the checkout's deno.json and the sockd set", () => {
  const text = bundledScriptText("/src/sockd/", "deno", "BUNDLE\n")!;
  const lines = text.split("\n");
  assertEquals(lines[0], "#!/usr/bin/env -S deno run -q -P=sockd --config /src/sockd/deno.json --ext=js");
  assertEquals(lines[1], `// ${SHIM_MARK}`);
  assertEquals(lines.at(-2), "BUNDLE");
  assertEquals(/(^|\s)(-A|--allow-all)(\s|$)/.test(text), false);
});

Deno.test(
  "install: bin/sockd runs the launcher as its #! interpreter: the user's words, the checkout's permission set",
  {
    ignore: Deno.build.os !== "linux",
  },
  async () => {
    await using tmp = await tempDir();
    const checkout = `${tmp.dir}/checkout/`;
    await Deno.mkdir(`${checkout}dist`, { recursive: true });
    // The set the launcher must find by itself, from its own directory: run from "/", with no --config.
    await Deno.writeTextFile(
      `${checkout}deno.json`,
      JSON.stringify({ permissions: { sockd: { env: ["HOME"] } } }),
    );
    const bundle =
      'console.log(JSON.stringify([Deno.args, Deno.permissions.querySync({ name: "env", variable: "HOME" }).state]));\n';
    const launcher = launcherText(checkout, Deno.execPath(), bundle)!;
    assertEquals(launcher.split("\n")[0], `#!${Deno.execPath()} -qP=sockd`);
    await Deno.writeTextFile(`${checkout}${LAUNCHER}`, launcher, { mode: 0o755 });
    const bin = `${tmp.dir}/bin-sockd`;
    await Deno.writeTextFile(bin, launchedScriptText(checkout)!, { mode: 0o755 });
    // Through sh, as a user's shell runs it: the kernel starts the launcher's deno with bin's path first.
    const viaSh = (...words: string[]) =>
      new Deno.Command("sh", {
        args: ["-c", 'exec "$0" "$@"', bin, ...words],
        cwd: "/",
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(60_000),
      }).output();
    const out = await viaSh("call", "a b", "--json", "-");
    const dec = new TextDecoder();
    assertEquals([dec.decode(out.stderr), out.code], ["", 0]);
    // HOME is granted by the set of the launcher's deno.json (without it: "prompt", or an error for -P).
    assertEquals(JSON.parse(dec.decode(out.stdout)), [["call", "a b", "--json", "-"], "granted"]);
    // No words: nothing of bin/sockd's path is left in Deno.args.
    const bare = await viaSh();
    assertEquals(JSON.parse(dec.decode(bare.stdout)), [[], "granted"]);
  },
);

Deno.test("install: the launcher form needs an absolute deno and a checkout path a #! line can hold", async (t) => {
  await t.step("deno by name (a #! line is not looked up on PATH)", () => {
    assertEquals(launcherText("/src/sockd/", "deno", "BUNDLE\n"), undefined);
  });
  await t.step("a space in deno's path", () => {
    assertEquals(launcherText("/src/sockd/", "/opt/my deno/deno", "BUNDLE\n"), undefined);
  });
  for (
    const [why, dir] of <[string, string][]> [
      ["a space (the kernel ends the interpreter there)", "/my src/sockd/"],
      ["a line over Linux's 256 bytes", `/${"d".repeat(240)}/`],
    ]
  ) {
    await t.step(why, () => assertEquals(launchedScriptText(dir), undefined));
  }
  const text = launchedScriptText("/src/sockd/")!;
  assertEquals(text.split("\n").slice(0, 2), ["#!/src/sockd/dist/sockd-call.js", SHIM_MARK]);
  const launcher = launcherText("/src/sockd/", "/usr/bin/deno", "BUNDLE\n")!;
  assertEquals(launcher.split("\n")[1], `// ${SHIM_MARK}`);
  assertEquals(launcher.endsWith("\nBUNDLE\n"), true);
  assertEquals(/(^|\s)(-A|--allow-all)(\s|$)/.test(launcher), false);
});

Deno.test("install: eagerFunctions parenthesizes multi-line top-level functions and nothing else", () => {
  const code = [
    "function a(x) {",
    "  if (x) {",
    "    return `}`;",
    "  }",
    "}",
    "async function* b() {",
    "  yield 1;",
    "}",
    "function c() { return 1; }",
    "var d = class {",
    "  m() {",
    "    function inner() {",
    "      return 2;",
    "    }",
    "  }",
    "};",
    "",
  ].join("\n");
  assertEquals(
    eagerFunctions(code),
    code.replace("function a(x) {", "var a = (function a(x) {").replace("  }\n}\nasync", "  }\n});\nasync")
      .replace("async function* b() {", "var b = (async function* b() {").replace(
        "  yield 1;\n}",
        "  yield 1;\n});",
      ),
  );
});

Deno.test("install: a checkout path a #! line cannot hold gets the shell script instead", async (t) => {
  for (
    const [why, dir] of <[string, string][]> [
      ["a space (env -S splits it)", "/my src/sockd/"],
      ["a dollar sign (env -S expands it)", "/src/$HOME/"],
      ["a backslash", "/src/a\\_b/"],
      ["a line over Linux's 256 bytes", `/${"d".repeat(200)}/`],
    ]
  ) {
    await t.step(why, () => assertEquals(bundledScriptText(dir, "deno", "BUNDLE\n"), undefined));
  }
  // The shell script quotes what the #! line could not hold.
  assertIncludes(shimText("/my src/sockd/"), `'/my src/sockd/main.ts' "$@"`);
});

Deno.test("install: the bundle answers a plain call and every other command line like main.ts", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/entry.ts`, bundleEntry(ROOT));
  const bundled = await new Deno.Command(DENO, {
    args: [
      "bundle",
      "-q",
      "--config",
      `${ROOT}deno.json`,
      "-o",
      `${tmp.dir}/sockd.js`,
      `${tmp.dir}/entry.ts`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  assertEquals(new TextDecoder().decode(bundled.stderr), "");
  const code = await Deno.readTextFile(`${tmp.dir}/sockd.js`);
  // Only the fast path is bundled: the full CLI stays in the checkout.
  assertEquals(code.includes("commander"), false);
  // As installed: with its functions compiled eagerly.
  await Deno.writeTextFile(`${tmp.dir}/sockd.js`, eagerFunctions(code));
  const run = async (script: string, args: string[]) => {
    const out = await new Deno.Command(DENO, {
      args: ["run", "-q", "-P=sockd", "--config", `${ROOT}deno.json`, script, ...args],
      cwd: tmp.dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  };
  const none = `${tmp.dir}/none.sock`;
  for (
    const args of [
      ["call", "--socket", none, "ping"], // plain: the bundle's own path
      ["call", "--socket", none, "--timeout", "1x", "ping"],
      ["call", "--count", "1", "--socket", none, "ping"], // not plain: main.ts
      ["version"],
    ]
  ) {
    const fromBundle = await run(`${tmp.dir}/sockd.js`, args);
    assertEquals(fromBundle, await run(`${ROOT}main.ts`, args), args.join(" "));
    assertEquals(fromBundle.stdout + fromBundle.stderr !== "", true);
  }
});
