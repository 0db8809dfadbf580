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
 * command line to the checkout's main.ts. Against the two-line shell script
 * running main.ts it replaced, a cold `sockd call ping` takes 21.9 ms
 * instead of 25.4 (an empty `deno run` 15.7; medians of 60 interleaved
 * runs): one file instead of ~20 modules, no shell, its functions in Deno's
 * code cache ({@linkcode eagerFunctions}). The bundle is the checkout's
 * code of the day it was installed: after changing the checkout, install
 * again.
 *
 * The bundle is kept in the checkout ({@linkcode LAUNCHER}, with a `#!<deno>
 * -qP=sockd` line), and `bin/sockd` is one `#!` line naming it: the kernel
 * starts Deno directly ({@linkcode launcherText}). The `#!` line holds the
 * absolute path of the deno on PATH at install time: a deno upgraded in
 * place keeps working; a deno moved or removed makes `sockd` fail with "bad
 * interpreter" until `deno task install` runs again. Where that form does
 * not run (a kernel without nested `#!` interpreters, such as macOS', a
 * noexec checkout, a path a `#!` line cannot hold), `bin/sockd` is the bundle
 * itself behind `#!/usr/bin/env -S deno run -q -P=sockd --config
 * <checkout>/deno.json --ext=js` (deno looked up on PATH at every run); where
 * `deno bundle` fails too, a shell script like the ones `deno install -g`
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
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { sockdRunArgv } from "./lib/cli/self_command.ts";
import {
  bundledScriptText,
  bundleEntry,
  eagerFunctions,
  launchedScriptText,
  LAUNCHER,
  launcherText,
  ownImportMetaUrls,
  SHIM_MARK,
  shimText,
} from "./_install_scripts.ts";

/** The checkout this script belongs to (a directory path ending in "/"). */
const CHECKOUT = new URL(".", import.meta.url).pathname;

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
 * The Deno the script should run. `shim`: "deno" (looked up on PATH when sockd runs, as `deno
 * install`'s scripts do) when the deno on PATH now is the one running this; else this one's
 * absolute path (e.g. a deno that `npx` fetched into npm's cache, which is on PATH only under
 * `npx`). `path`: the same as an absolute path, for a `#!` line: the PATH entry as found (not
 * its real path), so that a deno upgraded where it is found stays the one that runs.
 */
async function denoForShim(): Promise<{ shim: string; path: string }> {
  const running = await Deno.realPath(Deno.execPath());
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    const found = await Deno.realPath(`${dir}/deno`).catch(() => undefined);
    if (found === undefined) continue;
    if (found !== running || found.includes("/_npx/")) break;
    return { shim: "deno", path: dir.startsWith("/") ? `${dir}/deno` : Deno.execPath() };
  }
  return { shim: Deno.execPath(), path: Deno.execPath() };
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

/** Writes `text` to `path` as an executable script. */
async function writeScript(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(path, text, { mode: 0o755 });
  await Deno.chmod(path, 0o755);
}

/**
 * Writes the launcher ({@linkcode LAUNCHER}) into the checkout and `path`
 * (bin/sockd) naming it, then runs `path version` as a user would; resolves
 * to why that form does not run here (then `path` is to be written again),
 * or to undefined.
 */
async function installLauncher(
  path: string,
  deno: string,
  code: string,
  expected: string,
): Promise<string | undefined> {
  const launcher = launcherText(CHECKOUT, deno, code);
  const script = launchedScriptText(CHECKOUT);
  if (launcher === undefined || script === undefined) {
    return `${deno} or ${CHECKOUT} does not fit in a #! line`;
  }
  const file = `${CHECKOUT}${LAUNCHER}`;
  // Written aside and renamed over the old one: a sockd starting meanwhile never reads half a file.
  const aside = `${file}.${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.mkdir(dirname(file), { recursive: true });
    await writeScript(aside, launcher);
    await Deno.rename(aside, file);
  } catch (err) {
    // A checkout this user may not write to (installed for everyone, say): bin/sockd holds the bundle.
    await Deno.remove(aside).catch(() => {});
    return `cannot write ${file}: ${(err as Error).message}`;
  }
  await writeScript(path, script);
  return await verify(runInstalledArgv(path), expected);
}

/**
 * The argv that runs the installed `path` through the kernel's `#!`
 * handling, as a shell would: a deno allowed to run that one file (the
 * "install" set may run only deno) spawns it with the same arguments and
 * exits with its code; the output is the program's own.
 */
function runInstalledArgv(path: string): string[] {
  const code = `const { code } = await new Deno.Command(${JSON.stringify(path)}, ` +
    `{ args: Deno.args, stdin: "null" }).spawn().status;\nDeno.exit(code);\n`;
  return [
    "deno",
    "run",
    "-q",
    "--no-config",
    `--allow-run=${path}`,
    `data:text/javascript,${encodeURIComponent(code)}`,
  ];
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
  const expected = `sockd ${VERSION}`;
  const bundle = await makeBundle(expected);
  let why = "failed" in bundle
    ? bundle.failed
    : await installLauncher(path, deno.path, bundle.code, expected);
  if (why !== undefined) {
    let text = "code" in bundle ? bundledScriptText(CHECKOUT, deno.shim, bundle.code) : undefined;
    if (text !== undefined) {
      console.log(`note: sockd runs through /usr/bin/env (a cold \`sockd call\` takes ~1 ms more): ${why}`);
    } else {
      why = "failed" in bundle ? bundle.failed : `the path ${CHECKOUT} does not fit in a #! line`;
      console.log(`note: sockd runs unbundled (a cold \`sockd call\` takes ~4 ms more): ${why}`);
      text = shimText(CHECKOUT, deno.shim);
    }
    await writeScript(path, text);
  }
  console.log(`installed ${path} (sockd ${VERSION} from ${CHECKOUT})`);
  if (deno.shim !== "deno") console.log(`it runs ${deno.shim}: the deno on PATH, if any, is another one`);
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
