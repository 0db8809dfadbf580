/**
 * Puts `sockd` on PATH from this checkout, or takes it off again.
 *
 *     deno task install                  # writes $DENO_INSTALL_ROOT/bin/sockd (default ~/.deno/bin)
 *     deno task install --root /usr/local
 *     deno task uninstall                # removes it (only a file this script wrote)
 *
 * The installed `sockd` runs this checkout as `deno task sockd` does: `deno
 * run -q -P=sockd --config <checkout>/deno.json ...`. So the permission set
 * stays defined once (in deno.json), the frozen deno.lock applies, and `-q`
 * keeps Deno's notice about permission sets in the config file off stderr.
 *
 * It is a bundle (`deno bundle`, made at every install, never committed) of
 * the plain `sockd call` of lib/cli/call_fast.ts, which hands any other
 * command line to the checkout's main.ts, behind a `#!/usr/bin/env -S deno
 * run ...` line. Against the two-line shell script running main.ts it
 * replaced, a cold `sockd call ping` takes 21.9 ms instead of 25.4 (an
 * empty `deno run` 15.7; medians of 60 interleaved runs): one file instead
 * of ~20 modules, no shell, its functions in Deno's code cache
 * ({@linkcode eagerFunctions}). The bundle is the checkout's
 * code of the day it was installed: after changing the checkout, install
 * again. Where `deno bundle` fails, or the checkout's path does not fit in
 * a `#!` line, it is the shell script, like the ones `deno install -g`
 * writes, running `<checkout>/main.ts`.
 *
 * Why not `deno install -g` itself: as of Deno 2.9.6 it drops `-P=NAME` from
 * the script it writes (the installed program then has no permissions at
 * all), and with `--config` it copies deno.json next to the script and
 * resolves a new lock file there, so the checked-in, frozen deno.lock does not
 * apply ("The lockfile is out of date").
 *
 * @module
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { sockdRunArgv } from "./lib/cli/self_command.ts";

/** The first lines of every script this installer writes; uninstall removes only such files. */
export const SHIM_MARK = "# sockd: written by `deno task install`";

/** The checkout this script belongs to (a directory path ending in "/"). */
const CHECKOUT = new URL(".", import.meta.url).pathname;

/** Quotes `text` for a POSIX shell. */
export function shellQuote(text: string): string {
  if (/^[\w/.,=:@%+-]+$/.test(text)) return text;
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The shell script installed as `bin/sockd` when there is no bundle: it runs the checkout's main.ts. */
export function shimText(checkout: string, deno = "deno"): string {
  return [
    "#!/bin/sh",
    SHIM_MARK,
    `# Runs the checkout ${checkout} with its deno.json (permission set "sockd", frozen deno.lock).`,
    "# Moved the checkout? Run `deno task install` in its new place; `deno task uninstall` removes this file.",
    `exec ${sockdRunArgv(checkout, deno).map(shellQuote).join(" ")} "$@"`,
    "",
  ].join("\n");
}

/** Linux reads at most this many bytes of a `#!` line (BINPRM_BUF_SIZE, newline included). */
const SHEBANG_MAX = 256;

/**
 * The installed `bin/sockd` made of `bundle` (the output of `deno bundle`
 * for {@linkcode bundleEntry}): a `#!` line that runs it with the
 * checkout's deno.json, then the bundle. Undefined when the line cannot
 * hold the checkout's path (too long, or characters `env -S` would split or
 * expand).
 *
 * @example
 * ```ts
 * import { SHIM_MARK, bundledScriptText } from "./install.ts";
 * const text = bundledScriptText("/src/sockd/", "deno", "console.log(1);\n")!;
 * console.assert(text.startsWith("#!/usr/bin/env -S deno run -q -P=sockd --config /src/sockd/deno.json --ext=js\n"));
 * console.assert(text.includes(SHIM_MARK) && text.endsWith("console.log(1);\n"));
 * console.assert(bundledScriptText("/my src/", "deno", "") === undefined);
 * ```
 */
export function bundledScriptText(checkout: string, deno: string, bundle: string): string | undefined {
  const argv = sockdRunArgv(checkout, deno).slice(0, -1);
  // --ext=js: the file has no extension, and as TypeScript its parentheses (eagerFunctions) would be lost.
  const line = `#!/usr/bin/env -S ${[...argv, "--ext=js"].join(" ")}`;
  if (!argv.every((word) => /^[\w/.,=:@%+-]+$/.test(word)) || line.length + 1 > SHEBANG_MAX) return undefined;
  return [
    line,
    `// ${SHIM_MARK}`,
    `// The plain \`sockd call\` of the checkout ${checkout}, bundled; every other command line runs its main.ts.`,
    "// Moved or changed the checkout? Run `deno task install` (again); `deno task uninstall` removes this file.",
    bundle,
  ].join("\n");
}

/**
 * The module `deno bundle` turns into the installed script: a plain `sockd
 * call` runs here, anything else runs the checkout's main.ts, imported by a
 * computed specifier so that the bundle holds only the fast path.
 */
export function bundleEntry(checkout: string): string {
  const url = (path: string) => JSON.stringify(new URL(path, `file://${checkout}`).href);
  return [
    `// Generated by ${checkout}install.ts; \`deno task install\` makes it again.`,
    `import { fastCall } from ${url("lib/cli/call_fast.ts")};`,
    `if (Deno.args[0] === "call") {`,
    `  const code = await fastCall(Deno.args.slice(1));`,
    `  if (code !== undefined) Deno.exit(code);`,
    `}`,
    `const main: string = ${url("main.ts")};`,
    `await import(main);`,
    "",
  ].join("\n");
}

/**
 * `code` (deno bundle's output, made in `checkout`) with each
 * `import.meta.url` replaced by the URL of the module it was written in:
 * in the bundle it would be the bundle's own, and a module that loads a
 * file beside it (lib/cli/render.ts loads human.ts for a terminal) would
 * look for it next to bin/sockd. deno bundle starts each module's code with
 * a `// path` line. Undefined if some `import.meta` is left.
 *
 * @example
 * ```ts
 * import { ownImportMetaUrls } from "./install.ts";
 * const code = "// lib/a.ts\nvar u = new URL(\"./b.ts\", import.meta.url);\n";
 * console.assert(ownImportMetaUrls(code, "/src/")!.includes('new URL("./b.ts", "file:///src/lib/a.ts")'));
 * console.assert(ownImportMetaUrls("var m = import.meta.main;\n", "/src/") === undefined);
 * ```
 */
export function ownImportMetaUrls(code: string, checkout: string): string | undefined {
  let module: string | undefined;
  const lines = code.split("\n").map((line) => {
    const start = /^\/\/ ([\w./-]+\.[jt]s)$/.exec(line);
    if (start) module = new URL(start[1]!, `file://${checkout}`).href;
    return module === undefined ? line : line.replaceAll("import.meta.url", JSON.stringify(module));
  });
  const text = lines.join("\n");
  return text.includes("import.meta") ? undefined : text;
}

/**
 * `code` (deno bundle's output) with its top-level function declarations
 * made parenthesized function expressions (`var f = (function f() {...});`),
 * which V8 compiles with the file, so that they are in Deno's code cache
 * rather than compiled on every run when first called: ~0.8 ms of a cold
 * call's CPU (20.8 vs 21.6 ms, 60 interleaved runs; `--v8-flags=--no-lazy`
 * saves ~1.8 ms but doubles the full CLI's start). Such a name is bound only
 * when its line runs, not hoisted: makeBundle runs the result and keeps
 * `code` if it fails.
 *
 * @example
 * ```ts
 * import { eagerFunctions } from "./install.ts";
 * const code = "async function f(a) {\n  return a;\n}\nf(1);\n";
 * console.assert(eagerFunctions(code) === "var f = (async function f(a) {\n  return a;\n});\nf(1);\n");
 * ```
 */
export function eagerFunctions(code: string): string {
  // deno bundle (esbuild) starts a top-level function at column 0 and indents its body.
  return code.replace(
    /^((?:async )?function\*? ([\w$]+)\([^\n]*\{\n)([\s\S]*?)^\}$/gm,
    (_all, head: string, name: string, body: string) => `var ${name} = (${head}${body}});`,
  );
}

/**
 * Bundles the plain `sockd call` with the checkout's deno.json and checks
 * that the bundle runs `sockd version`; resolves to the bundle's text, or
 * to why not (Deno's words).
 */
async function makeBundle(expected: string): Promise<{ code: string } | { failed: string }> {
  const dir = await Deno.makeTempDir({ prefix: "sockd-install-" });
  try {
    const entry = `${dir}/entry.ts`;
    const out = `${dir}/sockd.js`;
    await Deno.writeTextFile(entry, bundleEntry(CHECKOUT));
    // "deno" as verify() runs it: the "install" permission set may run only that.
    const run = await new Deno.Command("deno", {
      args: ["bundle", "-q", "--config", `${CHECKOUT}deno.json`, "--platform", "deno", "-o", out, entry],
      cwd: CHECKOUT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    if (run.code !== 0) {
      return { failed: new TextDecoder().decode(run.stderr).trim() || `deno bundle exited with ${run.code}` };
    }
    // All but a plain call runs the checkout's main.ts through the bundle: that must work too.
    // `version` also runs the bundle's top level, where eagerFunctions could break an early call.
    const argv = sockdRunArgv(CHECKOUT);
    argv[argv.length - 1] = out;
    const code = ownImportMetaUrls(await Deno.readTextFile(out), CHECKOUT);
    if (code === undefined) return { failed: "the bundle uses import.meta outside a module of the checkout" };
    await Deno.writeTextFile(out, eagerFunctions(code));
    if (await verify(argv, expected) === undefined) return { code: eagerFunctions(code) };
    await Deno.writeTextFile(out, code);
    const broken = await verify(argv, expected);
    return broken ? { failed: `the bundle does not run: ${broken}` } : { code };
  } catch (err) {
    return { failed: (err as Error).message };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Where `deno install -g` puts programs: `--root`, else `$DENO_INSTALL_ROOT`, else `~/.deno`. */
export function installRoot(root: string | undefined): string {
  const chosen = root ?? Deno.env.get("DENO_INSTALL_ROOT");
  if (chosen) {
    // `deno task` runs in the checkout; INIT_CWD is where the user typed the command.
    return resolve(Deno.env.get("INIT_CWD") ?? Deno.cwd(), chosen);
  }
  const home = Deno.env.get("HOME");
  if (!home) throw new Error("Neither --root, DENO_INSTALL_ROOT nor HOME is set: say where to install");
  return `${home}/.deno`;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/**
 * The Deno the script should run: "deno" (looked up on PATH when sockd runs, as `deno install`'s
 * scripts do) when the deno on PATH now is the one running this; else this one's absolute path
 * (e.g. a deno that `npx` fetched into npm's cache, which is on PATH only under `npx`).
 */
async function denoForShim(): Promise<string> {
  const running = await Deno.realPath(Deno.execPath());
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    const found = await Deno.realPath(`${dir}/deno`).catch(() => undefined);
    if (found === undefined) continue;
    return found === running && !found.includes("/_npx/") ? "deno" : Deno.execPath();
  }
  return Deno.execPath();
}

function onPath(dir: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((d) => d.replace(/\/+$/, "") === dir);
}

/** Runs `argv` with "version" once: it must answer `sockd VERSION`. Returns an error or undefined. */
async function verify(argv: string[], expected: string): Promise<string | undefined> {
  const [deno, ...args] = argv;
  let out;
  try {
    out = await new Deno.Command(deno!, {
      args: [...args, "version"],
      cwd: "/",
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
  } catch (err) {
    return `could not run deno: ${(err as Error).message} (is deno on PATH?)`;
  }
  const dec = new TextDecoder();
  const stdout = dec.decode(out.stdout).trim();
  const stderr = dec.decode(out.stderr).trim();
  if (out.code !== 0 || stdout !== expected || stderr !== "") {
    return `"sockd version" answered ${JSON.stringify(stdout)} (exit ${out.code})` +
      (stderr ? ` and wrote on stderr:\n${stderr}` : ` instead of "${expected}"`);
  }
  return undefined;
}

async function install(bin: string, force: boolean): Promise<number> {
  const { VERSION } = await import("./lib/version.ts");
  const failure = await verify(sockdRunArgv(CHECKOUT), `sockd ${VERSION}`);
  if (failure) {
    console.error(`install: this checkout does not run: ${failure}`);
    return 1;
  }
  const path = `${bin}/sockd`;
  const existing = await readIfExists(path);
  if (existing !== undefined && !existing.includes(SHIM_MARK) && !force) {
    console.error(`install: ${path} exists and was not written by sockd's installer; --force replaces it`);
    return 1;
  }
  await Deno.mkdir(bin, { recursive: true });
  const deno = await denoForShim();
  const bundle = await makeBundle(`sockd ${VERSION}`);
  let text = "code" in bundle ? bundledScriptText(CHECKOUT, deno, bundle.code) : undefined;
  if (text === undefined) {
    const why = "failed" in bundle ? bundle.failed : `the path ${CHECKOUT} does not fit in a #! line`;
    console.log(`note: sockd runs unbundled (a cold \`sockd call\` takes ~4 ms more): ${why}`);
    text = shimText(CHECKOUT, deno);
  }
  await Deno.writeTextFile(path, text, { mode: 0o755 });
  await Deno.chmod(path, 0o755);
  console.log(`installed ${path} (sockd ${VERSION} from ${CHECKOUT})`);
  if (deno !== "deno") console.log(`it runs ${deno}: the deno on PATH, if any, is another one`);
  if (!onPath(bin)) console.log(`${bin} is not on your PATH; add it: export PATH="${bin}:$PATH"`);
  console.log(
    `shell completion: source <(sockd completions bash)   (or zsh; fish: sockd completions fish | source)`,
  );
  return 0;
}

async function uninstall(bin: string): Promise<number> {
  const path = `${bin}/sockd`;
  const existing = await readIfExists(path);
  if (existing === undefined) {
    console.log(`nothing to remove: ${path} does not exist`);
    return 0;
  }
  if (!existing.includes(SHIM_MARK)) {
    console.error(`uninstall: ${path} was not written by sockd's installer; left in place`);
    return 1;
  }
  await Deno.remove(path);
  console.log(`removed ${path}`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        root: { type: "string" },
        force: { type: "boolean", short: "f" },
        uninstall: { type: "boolean" },
      },
    }));
  } catch (err) {
    console.error(`install: ${(err as Error).message}`);
    return 2;
  }
  if (Deno.build.os === "windows") {
    console.error("install: sockd serves UNIX sockets; installing it on Windows is not supported");
    return 1;
  }
  let bin;
  try {
    bin = join(installRoot(values.root), "bin");
  } catch (err) {
    console.error(`install: ${(err as Error).message}`);
    return 2;
  }
  try {
    return values.uninstall ? await uninstall(bin) : await install(bin, values.force === true);
  } catch (err) {
    console.error(`${values.uninstall ? "uninstall" : "install"}: ${(err as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
