/**
 * `sockd init DIR`: scaffolds a plugin directory — an example command, an
 * empty grants file `sockd.json`, and what an editor and `deno check` need to
 * type-check plugins: a `deno.json` mapping "sockd" to `./.sockd/mod.ts`, and
 * in `.sockd/` a copy of the types plugins import from sockd (the three modules
 * that define them, which import nothing else).
 *
 * Why a copy and not a path to this checkout's lib/mod.ts: plugins import
 * only types, and a copy survives moving the checkout, moving the plugin
 * directory, and running `init` from the compiled binary (which has no lib/
 * on disk to point at); it needs no package or lock file either. The copy is
 * of this sockd's version: `init` rewrites `.sockd/` every time it runs (it
 * never touches the other files), so after upgrading sockd, run it again.
 *
 * @module
 */
import commandSource from "../command.ts" with { type: "text" };
import logSource from "../log.ts" with { type: "text" };
import serverViewSource from "../server_view.ts" with { type: "text" };
import { join, resolve } from "node:path";
import { VERSION } from "../version.ts";
import { checkoutDir } from "./self_command.ts";
import { Exit } from "./exit_codes.ts";
import { errorLine } from "./render.ts";

/** Where `sockd init` writes; tests pass their own. */
export interface InitIO {
  out(text: string): void;
  err(text: string): void;
}

const EXAMPLE = `import type { Command } from "sockd";

/**
 * \`hello [NAME] [--shout]\`: an example plugin command; edit it, copy it, or
 * export an array of commands. A plugin imports only types from "sockd".
 */
export default {
  name: "hello",
  summary: "Say hello (an example plugin command)",
  access: "read",
  args: [{ name: "name", optional: true, description: "Who to greet" }],
  flags: { shout: { type: "boolean", short: "s", description: "Greet loudly" } },
  run(ctx) {
    // Per-plugin state survives reloads of this file (values must be structured-cloneable).
    const visits = ((ctx.state.get("visits") as number | undefined) ?? 0) + 1;
    ctx.state.set("visits", visits);
    const text = \`hello, \${ctx.args[0] ?? "world"} (visit \${visits})\`;
    return ctx.flags.shout ? text.toUpperCase() : text;
  },
} satisfies Command;
`;

const GRANTS = {
  $comment: "What each plugin file may touch: read, write, net, env, run, sys, import " +
    '(true or a list); nothing by default. Example: "hello.ts": {"read": ["/etc/hostname"]}. See docs/PLUGINS.md.',
  plugins: { "hello.ts": {} },
};

/** Where the types go, inside the plugin directory (a dot directory: the loader and watcher skip it). */
export const TYPES_DIR = ".sockd";

/** The plugin directory's deno.json: "sockd" is the copy of sockd's types in {@linkcode TYPES_DIR}. */
export const DENO_JSON = {
  imports: { sockd: `./${TYPES_DIR}/mod.ts` },
  compilerOptions: { strict: true },
};

/** The files of {@linkcode TYPES_DIR}: a copy of sockd's plugin-facing types, for type checking only. */
export function typeFiles(): [string, string][] {
  const header =
    `// Written by \`sockd init\` (sockd ${VERSION}): a copy of sockd's types for type-checking plugins.\n` +
    "// Run `sockd init` on this directory again after upgrading sockd; it rewrites this directory only.\n";
  return [
    ["mod.ts", `${header}export type * from "./command.ts";\nexport type * from "./log.ts";\n`],
    ["command.ts", header + commandSource],
    ["log.ts", header + logSource],
    ["server_view.ts", header + serverViewSource],
  ];
}

async function write(
  path: string,
  text: string,
  overwrite: boolean,
  io: InitIO,
): Promise<boolean | undefined> {
  try {
    const before = overwrite ? await Deno.readTextFile(path).catch(() => undefined) : undefined;
    if (overwrite && before === text) {
      io.out(`kept    ${path} (up to date)\n`);
      return false;
    }
    await Deno.writeTextFile(path, text, { createNew: !overwrite });
    io.out(`${before === undefined ? "created" : "updated"} ${path}\n`);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) {
      io.out(`kept    ${path} (exists)\n`);
      return false;
    }
    io.err(errorLine(`Cannot write ${path}: ${(err as Error).message}`));
    return undefined;
  }
}

/** Creates the plugin directory `dir`; never overwrites a file outside `.sockd/`. Returns the exit code. */
export async function runInit(dir: string, io: InitIO): Promise<number> {
  const abs = resolve(dir);
  try {
    await Deno.mkdir(join(abs, TYPES_DIR), { recursive: true });
  } catch (err) {
    io.err(errorLine(`Cannot create ${abs}: ${(err as Error).message}`));
    return Exit.FAILED;
  }
  const files: [string, string, boolean][] = [
    ["hello.ts", EXAMPLE, false],
    ["deno.json", JSON.stringify(DENO_JSON, null, 2) + "\n", false],
    ["sockd.json", JSON.stringify(GRANTS, null, 2) + "\n", false],
    ...typeFiles().map(([name, text]): [string, string, boolean] => [join(TYPES_DIR, name), text, true]),
  ];
  let created = 0;
  for (const [name, text, overwrite] of files) {
    const wrote = await write(join(abs, name), text, overwrite, io);
    if (wrote === undefined) return Exit.FAILED;
    if (wrote) created++;
  }
  const checkout = Deno.build.standalone ? undefined : checkoutDir();
  io.out(
    `\nNext:\n  cd ${abs} && deno check hello.ts\n  sockd serve --plugins ${abs}\n  sockd call hello --shout\n` +
      (checkout === undefined ? "" : `(no sockd on PATH? run \`deno task install\` in ${checkout})\n`) +
      (created === 0 ? "(nothing new was written)\n" : ""),
  );
  return Exit.OK;
}
