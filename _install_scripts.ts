/**
 * The text of what `deno task install` (install.ts) writes: the launcher
 * (the bundled plain `sockd call`, kept in the checkout), `bin/sockd` that
 * runs it, and the older forms it falls back to: the bundle behind a
 * `#!/usr/bin/env -S deno run ...` line, or a shell script running main.ts.
 *
 * @module
 */
import { sockdRunArgv } from "./lib/cli/self_command.ts";

/** A word a shell takes as it is and a `#!` line keeps whole: no space (the kernel and `env -S` split at it), no `$` or `\\`. */
const PLAIN_WORD = /^[\w/.,=:@%+-]+$/;

/** The first lines of every script this installer writes; uninstall removes only such files. */
export const SHIM_MARK = "# sockd: written by `deno task install`";

/** Quotes `text` for a POSIX shell. */
export function shellQuote(text: string): string {
  if (PLAIN_WORD.test(text)) return text;
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
 * import { SHIM_MARK, bundledScriptText } from "./_install_scripts.ts";
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
  if (!argv.every((word) => PLAIN_WORD.test(word)) || line.length + 1 > SHEBANG_MAX) return undefined;
  return [
    line,
    `// ${SHIM_MARK}`,
    `// The plain \`sockd call\` of the checkout ${checkout}, bundled; every other command line runs its main.ts.`,
    "// Moved or changed the checkout? Run `deno task install` (again); `deno task uninstall` removes this file.",
    bundle,
  ].join("\n");
}

/** Where install.ts keeps the launcher, in the checkout (dist/ is gitignored; every install writes it again). */
export const LAUNCHER = "dist/sockd-call.js";

/**
 * The launcher: `bundle` (deno bundle's output for {@linkcode bundleEntry})
 * as a file of the checkout, run by `deno` (an absolute path: a `#!` line
 * is not looked up on PATH). `bin/sockd` names it as its own `#!`
 * interpreter ({@linkcode launchedScriptText}), so the kernel starts Deno at
 * once: no `/usr/bin/env` process (its exec, locale setup and PATH search)
 * before it. A cold `sockd call ping` took 21.2 ms instead of 22.4 of wall
 * time, 20.6 instead of 21.3 of CPU (an empty `deno run` 16.6; medians of
 * 60 interleaved runs, load 2.5).
 * Linux hands a `#!` interpreter the rest of its line as one argument:
 * `-qP=sockd` is `-q -P=sockd` in one word, and Deno finds the checkout's
 * deno.json (the permission set, the frozen deno.lock) from the launcher's
 * directory, as `--config` would. The kernel puts `bin/sockd`'s own path
 * before the user's words: the launcher drops it from `Deno.args` before
 * anything reads them. Undefined when `deno` cannot stand in a `#!` line.
 *
 * @example
 * ```ts
 * import { launcherText } from "./_install_scripts.ts";
 * const text = launcherText("/src/sockd/", "/usr/bin/deno", "console.log(Deno.args);\n")!;
 * console.assert(text.startsWith("#!/usr/bin/deno -qP=sockd\n"));
 * console.assert(launcherText("/src/sockd/", "deno", "") === undefined);
 * ```
 */
export function launcherText(checkout: string, deno: string, bundle: string): string | undefined {
  const line = `#!${deno} -qP=sockd`;
  if (!deno.startsWith("/") || !PLAIN_WORD.test(deno) || line.length + 1 > SHEBANG_MAX) return undefined;
  return [
    line,
    `// ${SHIM_MARK}`,
    `// The plain \`sockd call\` of the checkout ${checkout}, bundled; every other command line runs its main.ts.`,
    "// bin/sockd runs this file as its #! interpreter, which puts bin/sockd's own path first in Deno.args.",
    `Object.defineProperty(Deno, "args", { value: Deno.args.slice(1), enumerable: true, configurable: true });`,
    bundle,
  ].join("\n");
}

/**
 * `bin/sockd` of the launcher form: a `#!` line naming the checkout's
 * launcher ({@linkcode launcherText}). Only the kernel reads it; Deno runs
 * the launcher. Undefined when the line cannot hold the checkout's path.
 *
 * @example
 * ```ts
 * import { launchedScriptText, SHIM_MARK } from "./_install_scripts.ts";
 * const text = launchedScriptText("/src/sockd/")!;
 * console.assert(text.startsWith("#!/src/sockd/dist/sockd-call.js\n") && text.includes(SHIM_MARK));
 * console.assert(launchedScriptText("/my src/") === undefined);
 * ```
 */
export function launchedScriptText(checkout: string): string | undefined {
  const line = `#!${checkout}${LAUNCHER}`;
  if (!PLAIN_WORD.test(checkout) || line.length + 1 > SHEBANG_MAX) return undefined;
  return [
    line,
    SHIM_MARK,
    `# Runs ${checkout}${LAUNCHER}, the plain \`sockd call\` of that checkout, bundled; the rest runs its main.ts.`,
    "# Moved or changed the checkout, or moved deno? Run `deno task install` (again); `deno task uninstall` removes this file.",
    "",
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
 * import { ownImportMetaUrls } from "./_install_scripts.ts";
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
 * call's CPU (20.8 vs 21.6 ms, 60 interleaved runs; again 22.6 vs 23.9 ms
 * for the launcher, load 6; `--v8-flags=--no-lazy` saves ~1.8 ms but
 * doubles the full CLI's start). Making only the functions a `ping` runs
 * eager (43 of 78) measured the same (22.9 ms): V8 compiles the code cache
 * before the module runs, so class methods and closures stay lazy (see
 * lib/cli/_msgpack_lite.ts's reader). Such a name is bound only
 * when its line runs, not hoisted: makeBundle runs the result and keeps
 * `code` if it fails.
 *
 * @example
 * ```ts
 * import { eagerFunctions } from "./_install_scripts.ts";
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
