/**
 * Puts `sockd` on PATH from this checkout, or takes it off again.
 *
 *     deno task install                  # writes $DENO_INSTALL_ROOT/bin/sockd (default ~/.deno/bin)
 *     deno task install --root /usr/local
 *     deno task uninstall                # removes it (only a file this script wrote)
 *
 * The installed `sockd` is a two-line shell script, like the ones `deno
 * install -g` writes, that runs this checkout exactly as `deno task sockd`
 * does: `deno run -q -P=sockd --config <checkout>/deno.json <checkout>/main.ts`.
 * So the permission set stays defined once (in deno.json), the frozen
 * deno.lock applies, and `-q` keeps Deno's notice about permission sets in
 * the config file off stderr.
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

/** The shell script installed as `bin/sockd`. */
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

/** Runs the installed command line once: it must answer `sockd VERSION`. Returns an error or undefined. */
async function verify(expected: string): Promise<string | undefined> {
  const [deno, ...args] = sockdRunArgv(CHECKOUT);
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
  const failure = await verify(`sockd ${VERSION}`);
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
  await Deno.writeTextFile(path, shimText(CHECKOUT, deno), { mode: 0o755 });
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
