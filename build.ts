/**
 * Builds the single `sockd` binary with `deno compile`, using the same
 * permission set (`-P=sockd`) that `deno task sockd` and the tests use.
 *
 *     deno task build                        # dist/sockd for this machine
 *     deno task build --target aarch64-apple-darwin
 *     deno task build --dry-run              # print the command only
 *
 * `deno compile` needs the `denort` runtime, which it downloads from Deno's
 * servers unless `DENORT_BIN` names a local copy (matching the deno version
 * and the target).
 *
 * @module
 */
import { parseArgs } from "node:util";

/** Targets `deno compile --target` accepts. */
export const TARGETS: readonly string[] = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
];

/** Files loaded at run time by path rather than imported statically; compiled in explicitly. */
export const RUNTIME_FILES: readonly string[] = ["commands/", "lib/runner/"];

/** What to build. */
export interface BuildOptions {
  target?: string;
  output?: string;
}

/** The exact `deno` arguments of the build. */
export function compileArgs(options: BuildOptions = {}): string[] {
  if (options.target !== undefined && !TARGETS.includes(options.target)) {
    throw new Error(`Unknown target "${options.target}" (use one of ${TARGETS.join(", ")})`);
  }
  const output = options.output ?? `dist/sockd${options.target ? `-${options.target}` : ""}`;
  return [
    "compile",
    "-P=sockd",
    ...RUNTIME_FILES.flatMap((f) => ["--include", f]),
    ...(options.target ? ["--target", options.target] : []),
    "--output",
    output,
    "main.ts",
  ];
}

/** What to tell a user whose build could not get the runtime. */
export function denortHelp(target: string | undefined): string {
  return [
    "deno compile could not obtain the denort runtime it embeds in the binary.",
    "It downloads it from Deno's servers, which this machine cannot reach.",
    `Provide a local copy instead: get the denort build for deno ${Deno.version.deno}` +
    (target ? ` and target ${target}` : " and this platform") +
    " (the denort-<target>.zip asset of the Deno release), unzip it, and run:",
    "  DENORT_BIN=/path/to/denort deno task build" + (target ? ` --target ${target}` : ""),
  ].join("\n");
}

async function build(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: "string" },
      output: { type: "string", short: "o" },
      "dry-run": { type: "boolean" },
    },
  });
  let args: string[];
  try {
    args = compileArgs({ target: values.target, output: values.output });
  } catch (err) {
    console.error(`build: ${(err as Error).message}`);
    return 2;
  }
  const denort = Deno.env.get("DENORT_BIN");
  const shown = `${denort ? `DENORT_BIN=${denort} ` : ""}deno ${args.join(" ")}`;
  if (values["dry-run"]) {
    console.log(shown);
    return 0;
  }
  if (denort) {
    try {
      const info = await Deno.stat(denort);
      if (!info.isFile) throw new Error("not a file");
    } catch (err) {
      console.error(`build: DENORT_BIN=${denort} is not a usable file (${(err as Error).message}).`);
      console.error(denortHelp(values.target));
      return 1;
    }
  } else {
    console.error("build: DENORT_BIN is not set; deno compile will try to download the runtime.");
  }
  console.error(`build: ${shown}`);
  const child = new Deno.Command("deno", { args, stdout: "inherit", stderr: "piped" }).spawn();
  const out = await child.output();
  const errText = new TextDecoder().decode(out.stderr);
  await Deno.stderr.write(out.stderr);
  if (out.code !== 0) {
    if (/denort|download|dl\.deno|dns|connect|network|resolve/i.test(errText)) {
      console.error("\n" + denortHelp(values.target));
    }
    return out.code;
  }
  console.error(`build: wrote ${args[args.indexOf("--output") + 1]}`);
  return 0;
}

if (import.meta.main) Deno.exit(await build(Deno.args));
