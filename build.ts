/**
 * Builds the single `sockd` binary with `deno compile`, using the same
 * permission set (`-P=sockd`) that `deno task sockd` and the tests use, and
 * checks what it built: a binary for this machine must answer `sockd
 * version` with sockd's version, or the build fails and the file is removed.
 *
 *     deno task build                        # dist/sockd for this machine
 *     deno task build --target aarch64-apple-darwin
 *     deno task build --include extra/dir/   # another file or directory to compile in
 *     deno task build --supervise node       # may also run node, kill, ps (serve --supervise)
 *     deno task build --dry-run              # print the command only
 *
 * `deno compile` needs the `denort` runtime of this very Deno version. It
 * takes it from `DENORT_BIN` (a local copy of the binary), else from the
 * archive Deno keeps in its cache (`DENO_DIR/dl/release/vVERSION/
 * denort-TARGET.zip`), else it downloads that archive from Deno's servers.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { VERSION } from "./lib/version.ts";

/** Targets `deno compile --target` accepts. */
export const TARGETS: readonly string[] = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
];

/**
 * Files loaded at run time by path rather than imported statically; compiled
 * in explicitly. `lib/runner/` holds what runs plugins (the host process's
 * entry point and the worker harness). main.ts and lib/cli import the full
 * CLI, the fleet modules and the human renderer by computed specifiers, so
 * that `deno run` does not read their module graphs before a plain
 * `sockd call`: `lib/` brings them all in.
 */
export const RUNTIME_FILES: readonly string[] = ["commands/", "lib/"];

/** What to build. */
export interface BuildOptions {
  target?: string;
  output?: string;
  /** More files or directories to compile in, after {@linkcode RUNTIME_FILES}. */
  include?: readonly string[];
  /**
   * Programs the binary may supervise (`serve --supervise`): compiled in as
   * `--allow-run=/proc/self/exe,kill,ps,PROGRAMS`, since a compiled binary
   * has only the permissions it was built with.
   */
  supervise?: readonly string[];
}

/** Where the binary goes unless `--output` says otherwise. */
export function defaultOutput(target: string | undefined): string {
  return `dist/sockd${target ? `-${target}` : ""}`;
}

/** The exact `deno` arguments of the build. */
export function compileArgs(options: BuildOptions = {}): string[] {
  if (options.target !== undefined && !TARGETS.includes(options.target)) {
    throw new Error(`Unknown target "${options.target}" (use one of ${TARGETS.join(", ")})`);
  }
  return [
    "compile",
    "-q",
    "-P=sockd",
    ...superviseGrant(options.supervise ?? []),
    ...[...RUNTIME_FILES, ...options.include ?? []].flatMap((f) => ["--include", f]),
    ...(options.target ? ["--target", options.target] : []),
    "--output",
    options.output ?? defaultOutput(options.target),
    "main.ts",
  ];
}

/** The `run` grant of a supervising binary: plugin hosts, `kill` and `ps` (group stop, memory), the programs. */
function superviseGrant(programs: readonly string[]): string[] {
  if (programs.length === 0) return [];
  for (const p of programs) {
    if (p === "" || p.includes(",")) throw new Error(`Bad program for --supervise: ${JSON.stringify(p)}`);
  }
  return [`--allow-run=${["/proc/self/exe", "kill", "ps", ...programs].join(",")}`];
}

/** Where `deno compile` looks for the denort archive of `target` in Deno's cache (`denoDir`). */
export function cachedDenortPath(denoDir: string, target: string = Deno.build.target): string {
  return `${denoDir}/dl/release/v${Deno.version.deno}/denort-${target}.zip`;
}

/** What to tell a user whose build could not get the runtime. */
export function denortHelp(target: string | undefined, cached?: string): string {
  return [
    "deno compile could not obtain the denort runtime it embeds in the binary.",
    "It downloads it from Deno's servers, which this machine cannot reach.",
    `Get the denort build for deno ${Deno.version.deno}` +
    (target ? ` and target ${target}` : " and this platform") +
    " (the denort-<target>.zip asset of the Deno release) elsewhere, then either unzip it and run:",
    "  DENORT_BIN=/path/to/denort deno task build" + (target ? ` --target ${target}` : ""),
    ...(cached ? [`or put the .zip, as it is, at ${cached}`] : []),
  ].join("\n");
}

function oneLine(text: string): string {
  const t = text.trim().split("\n")[0] ?? ""; // NO_COLOR is set: no escape codes
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

/**
 * Runs the built binary `path`: it must print `sockd VERSION` for `version`.
 * Resolves to undefined when it does, else to why not (naming a copy of
 * plain deno, which ignores the program compiled into it, as such).
 */
export async function verifyBuilt(path: string): Promise<string | undefined> {
  const run = async (arg: string) => {
    const out = await new Deno.Command(path, {
      args: [arg],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
      signal: AbortSignal.timeout(30_000),
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  };
  const expected = `sockd ${VERSION}`;
  let answer;
  try {
    answer = await run("version");
  } catch (err) {
    return `${path} does not run: ${(err as Error).message}`;
  }
  if (answer.code === 0 && answer.stdout.trim() === expected) return undefined;
  const said = oneLine(answer.stdout) || oneLine(answer.stderr);
  let why = `"${path} version" exited ${answer.code} and printed ${JSON.stringify(said)}, not "${expected}".`;
  const asDeno = await run("--version").catch(() => undefined);
  if (asDeno && /^deno \d/.test(asDeno.stdout)) {
    why += `\nIt is a copy of plain ${oneLine(asDeno.stdout)}, which ignores the program compiled into it: ` +
      "DENORT_BIN must name the denort runtime (from denort-<target>.zip of the Deno release), not deno itself.";
  }
  return why;
}

/** Deno's cache directory, as `deno info --json` reports it; undefined if it cannot be asked. */
async function denoDir(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("deno", {
      args: ["info", "--json"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(30_000),
    }).output();
    const dir = JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
    return typeof dir === "string" ? dir : undefined;
  } catch {
    return undefined;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function build(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        target: { type: "string" },
        output: { type: "string", short: "o" },
        include: { type: "string", multiple: true },
        supervise: { type: "string", multiple: true },
        "dry-run": { type: "boolean" },
      },
    }));
  } catch (err) {
    console.error(`build: ${(err as Error).message}`);
    return 2;
  }
  let args: string[];
  try {
    args = compileArgs({
      target: values.target,
      output: values.output,
      include: values.include,
      supervise: values.supervise,
    });
  } catch (err) {
    console.error(`build: ${(err as Error).message}`);
    return 2;
  }
  const output = args[args.indexOf("--output") + 1]!;
  const denort = Deno.env.get("DENORT_BIN");
  const shown = `${denort ? `DENORT_BIN=${denort} ` : ""}deno ${args.join(" ")}`;
  if (values["dry-run"]) {
    console.log(shown);
    return 0;
  }
  const target = values.target ?? Deno.build.target;
  const dir = await denoDir();
  const cached = dir === undefined ? undefined : cachedDenortPath(dir, target);
  if (denort) {
    if (!await isFile(denort)) {
      console.error(
        `build: DENORT_BIN=${denort} is not a usable file (it must name the unzipped denort binary).`,
      );
      console.error(denortHelp(values.target, cached));
      return 1;
    }
  } else if (cached && await isFile(cached)) {
    console.error(`build: using the denort archive in Deno's cache: ${cached}`);
  } else {
    console.error(
      `build: DENORT_BIN is not set and ${cached ?? "Deno's cache"} does not exist; ` +
        "deno compile will try to download the runtime.",
    );
  }
  console.error(`build: ${shown}`);
  const out = await new Deno.Command("deno", { args, stdout: "inherit", stderr: "piped" }).output();
  const errText = new TextDecoder().decode(out.stderr);
  await Deno.stderr.write(out.stderr);
  if (out.code !== 0) {
    if (/denort|download|dl\.deno|dns|connect|network|resolve/i.test(errText)) {
      console.error("\n" + denortHelp(values.target, cached));
    }
    return out.code;
  }
  if (target !== Deno.build.target) {
    console.error(
      `build: wrote ${output}, NOT verified: a ${target} binary cannot run on this ${Deno.build.target} machine.\n` +
        `On a ${target} machine, "${output} version" must print "sockd ${VERSION}".`,
    );
    return 0;
  }
  const failure = await verifyBuilt(output);
  if (failure) {
    // Deno denies writing a path the permission set may run, so the file cannot be removed from here.
    console.error(
      `build: FAILED: ${output} is not a working sockd; do not ship it (rm ${output}).\n${failure}`,
    );
    return 1;
  }
  console.error(`build: wrote ${output}; verified: "${output} version" prints "sockd ${VERSION}"`);
  return 0;
}

if (import.meta.main) Deno.exit(await build(Deno.args));
