/**
 * `sockd init DIR`: scaffolds a plugin directory — an example command, a
 * `deno.json` whose import map points "sockd" at this installation's
 * lib/mod.ts (so an editor and `deno check` type-check plugins against
 * sockd's types) with sockd's `deno.lock`, and an empty grants file
 * `sockd.json`.
 *
 * @module
 */
import { join, resolve } from "node:path";
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

/**
 * The import map of a plugin directory: "sockd" → this installation's
 * lib/mod.ts as an absolute file URL, plus the packages sockd itself imports
 * (so `deno check` can follow sockd's own imports).
 */
export async function pluginImportMap(): Promise<Record<string, string>> {
  const mod = new URL("../mod.ts", import.meta.url).href;
  let imports: Record<string, string> = {};
  try {
    const cfg = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
    if (cfg && typeof cfg.imports === "object") imports = { ...cfg.imports };
  } catch { /* a compiled binary carries no deno.json: "sockd" alone */ }
  return { ...imports, sockd: mod };
}

/** Creates the plugin directory `dir`; never overwrites a file. Returns the exit code. */
export async function runInit(dir: string, io: InitIO): Promise<number> {
  const abs = resolve(dir);
  try {
    await Deno.mkdir(abs, { recursive: true });
  } catch (err) {
    io.err(errorLine(`Cannot create ${abs}: ${(err as Error).message}`));
    return Exit.FAILED;
  }
  const denoJson = {
    imports: await pluginImportMap(),
    // sockd's types use the Worker permission options, an unstable API in Deno 2.
    unstable: ["worker-options"],
    compilerOptions: { strict: true },
  };
  const files: [string, string][] = [
    ["hello.ts", EXAMPLE],
    ["deno.json", JSON.stringify(denoJson, null, 2) + "\n"],
    ["sockd.json", JSON.stringify(GRANTS, null, 2) + "\n"],
  ];
  // sockd's own lock file pins its packages (and leaves out msgpackr's optional
  // native addon, which the registry lacks for some platforms).
  const lock = await Deno.readTextFile(new URL("../../deno.lock", import.meta.url)).catch(() => undefined);
  if (lock !== undefined) files.push(["deno.lock", lock]);
  let created = 0;
  for (const [name, text] of files) {
    const path = join(abs, name);
    try {
      await Deno.writeTextFile(path, text, { createNew: true });
      io.out(`created ${path}\n`);
      created++;
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) {
        io.out(`kept    ${path} (exists)\n`);
        continue;
      }
      io.err(errorLine(`Cannot write ${path}: ${(err as Error).message}`));
      return Exit.FAILED;
    }
  }
  io.out(
    `\nNext:\n  cd ${abs} && deno check hello.ts\n  sockd serve --plugins ${abs}\n  sockd call hello --shout\n` +
      (created === 0 ? "(nothing new was written)\n" : ""),
  );
  return Exit.OK;
}
