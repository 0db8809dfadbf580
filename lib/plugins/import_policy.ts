/**
 * Where a plugin's code may come from, checked before its host starts.
 *
 * Deno loads a module graph without permission checks: every static
 * `import`/`export … from` and every dynamic `import("literal")` of a
 * module is fetched when the module loads, whatever the importing code's
 * permissions (a literal `import("/etc/passwd", { with: { type: "text" } })`
 * reads the file). Runtime-built specifiers are checked (read, import), so
 * the literal ones are what must be vetted, and they can be found without
 * running anything: each module of the plugin's graph is parsed with Babel's
 * parser (`@babel/parser`, TypeScript syntax), the same kinds of imports Deno
 * prefetches are collected from its syntax tree, and the graph is walked.
 *
 * A plugin may import files inside its own plugin directory (real paths:
 * symlinks are resolved, `..` cannot leave it), `node:` built-ins, and
 * `sockd` (its types). Anything else (a path elsewhere, `npm:`, `jsr:`,
 * `http(s):`, `data:`, `blob:`, a bare name) needs an `"import"` grant that
 * names it or a prefix of it. Type-only imports (`import type`, `export
 * type`) are erased before Deno loads anything, so they are not checked.
 *
 * @module
 */
import { parse } from "@babel/parser";
import { basename, extname, isAbsolute, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** A plugin's module graph reaches outside what it may import. */
export class ImportPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImportPolicyError";
  }
}

/** Options of {@linkcode checkPluginImports}. */
export interface ImportPolicyOptions {
  /** The plugin directory: files inside it may be imported. */
  dir: string;
  /** The plugin's `"import"` grant: specifiers, or prefixes of them, it may import as well. */
  allow?: readonly string[];
  /** Where the grants live (named in errors). */
  configFile: string;
  /**
   * Modules the graph may hold before it is refused.
   * @default {256}
   */
  maxModules?: number;
  /**
   * Size of one module's source, in bytes (parsing happens in the server).
   * @default {1048576}
   */
  maxModuleBytes?: number;
}

/** Extensions of modules whose imports are followed. */
const CODE_EXT = new Set([".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"]);
/** Specifiers always allowed: the runtime's own modules and sockd's types (resolved by the host's import map). */
const ALWAYS = [/^node:/, /^sockd(\/|$)/];
/**
 * Built-ins that are a way around the checks: `node:worker_threads` starts
 * threads the server cannot stop between calls (as `Worker`, which the host
 * removes before the plugin runs).
 */
const REFUSED_BUILTINS = new Set(["node:worker_threads", "worker_threads"]);

/**
 * Checks the module graph of plugin `file` and returns the files in it;
 * throws an {@linkcode ImportPolicyError} naming the first import that is
 * not allowed, the module that makes it, and the grant that would allow it.
 *
 * @example
 * ```ts
 * import { checkPluginImports } from "./import_policy.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/ok.ts`, 'import { join } from "node:path"; export default join;');
 * await Deno.writeTextFile(`${dir}/bad.ts`, 'const t = await import("/etc/passwd", { with: { type: "text" } });');
 * const files = await checkPluginImports(`${dir}/ok.ts`, { dir, configFile: `${dir}/sockd.json` });
 * console.assert(files.length === 1);
 * const err = await checkPluginImports(`${dir}/bad.ts`, { dir, configFile: `${dir}/sockd.json` })
 *   .catch((e) => e);
 * console.assert(err.message.startsWith('Import "/etc/passwd" in bad.ts is not allowed'));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function checkPluginImports(file: string, options: ImportPolicyOptions): Promise<string[]> {
  const plugin = basename(file);
  const maxModules = options.maxModules ?? 256;
  const maxBytes = options.maxModuleBytes ?? 1024 * 1024;
  const allow = options.allow ?? [];
  const roots = [await Deno.realPath(options.dir)];
  for (const a of allow) {
    const path = a.startsWith("file:") ? fileURLToPath(a) : isAbsolute(a) ? a : undefined;
    if (path) roots.push(await Deno.realPath(path).catch(() => path));
  }
  const refuse = (spec: string, from: string, why: string): never => {
    throw new ImportPolicyError(
      `Import "${spec}" in ${from} is not allowed: ${why}; a plugin imports files in its own directory, ` +
        `node: built-ins and "sockd". To allow it, grant "import": [${JSON.stringify(spec)}] for ${plugin} ` +
        `in ${options.configFile}`,
    );
  };
  const seen = new Set<string>();
  const queue: { path: string; spec: string; from: string }[] = [{ path: file, spec: file, from: plugin }];
  while (queue.length > 0) {
    const { path, spec, from } = queue.shift()!;
    let real: string;
    try {
      real = await Deno.realPath(path);
    } catch (err) {
      if (path === file) throw new ImportPolicyError(`Cannot read ${plugin}: ${(err as Error).message}`);
      throw new ImportPolicyError(`Import "${spec}" in ${from}: no such file (${path})`);
    }
    if (!roots.some((root) => real === root || real.startsWith(root + "/"))) {
      refuse(spec, from, path === file ? `the file is ${real}, outside ${roots[0]}` : `it is ${real}`);
    }
    if (seen.has(real)) continue;
    seen.add(real);
    if (seen.size > maxModules) {
      throw new ImportPolicyError(`${plugin} imports more than ${maxModules} modules`);
    }
    const ext = extname(real);
    if (ext === ".tsx" || ext === ".jsx") refuse(spec, from, "JSX modules are not supported in plugins");
    // Deno loads a WebAssembly module's own imports without any check, and they cannot be read here.
    if (ext === ".wasm") refuse(spec, from, "WebAssembly modules import without any check");
    if (!CODE_EXT.has(ext)) continue; // JSON, text, bytes: data, no imports of their own
    const info = await Deno.stat(real);
    if (info.size > maxBytes) {
      throw new ImportPolicyError(`${basename(real)} is larger than ${maxBytes} bytes`);
    }
    const name = relative(roots[0]!, real) || basename(real);
    for (const s of moduleImports(await Deno.readTextFile(real), real, name)) {
      if (REFUSED_BUILTINS.has(s) && !allow.includes(s)) {
        refuse(s, name, "it starts threads sockd cannot stop");
      }
      if (ALWAYS.some((re) => re.test(s))) continue;
      if (allow.some((a) => granted(a, s))) {
        if (!isLocal(s)) continue; // a granted remote or package specifier: trusted as granted
      }
      if (!isLocal(s)) refuse(s, name, "it is not a file in the plugin directory");
      let target: string;
      try {
        target = fileURLToPath(new URL(s, pathToFileURL(real)));
      } catch {
        refuse(s, name, "it is not a file path");
      }
      queue.push({ path: target!, spec: s, from: name });
    }
  }
  return [...seen];
}

/**
 * Whether grant `a` covers specifier `s`: the same; or `a` names a directory
 * or package and `s` is inside it (`/srv/shared/` covers `/srv/shared/x.ts`,
 * `npm:zod@3` covers `npm:zod@3/locales`); or, for `npm:` and `jsr:`, `s`
 * is a more precise version (`npm:zod@3` covers `npm:zod@3.23.8`, not
 * `npm:zod@30`).
 */
function granted(a: string, s: string): boolean {
  if (s === a || s.startsWith(a.endsWith("/") ? a : `${a}/`)) return true;
  return /^(npm|jsr):/.test(a) && s.startsWith(`${a}.`);
}

function isLocal(spec: string): boolean {
  return spec.startsWith("./") || spec.startsWith("../") || spec.startsWith("/") || spec.startsWith("file:");
}

interface Node {
  type: string;
  [key: string]: unknown;
}

/**
 * The specifiers a module makes Deno load: static imports and re-exports
 * that are not type-only, `import x = require("…")`, and dynamic imports
 * whose specifier is a literal. Throws when the source does not parse.
 */
export function moduleImports(source: string, path: string, name = basename(path)): string[] {
  const ts = /\.[mc]?ts$/.test(path);
  let ast: { program: Node };
  try {
    ast = parse(source, {
      sourceType: "module",
      sourceFilename: path,
      plugins: [
        ...(ts ? ["typescript" as const] : []),
        "decorators",
        "decoratorAutoAccessors",
        "sourcePhaseImports",
        "deferredImportEvaluation",
      ],
      errorRecovery: false,
    }) as unknown as { program: Node };
  } catch (err) {
    throw new ImportPolicyError(`SyntaxError: ${(err as Error).message} in ${name}`);
  }
  const out: string[] = [];
  const literal = (n: unknown): string | undefined => {
    const node = n as Node | undefined;
    if (node?.type === "StringLiteral") return node.value as string;
    if (node?.type === "TemplateLiteral" && (node.expressions as unknown[]).length === 0) {
      return ((node.quasis as Node[])[0]!.value as { cooked: string }).cooked;
    }
    return undefined;
  };
  const visit = (node: Node) => {
    switch (node.type) {
      case "ImportDeclaration":
      case "ExportAllDeclaration":
      case "ExportNamedDeclaration":
        if (node.source && node.importKind !== "type" && node.exportKind !== "type") {
          out.push((node.source as Node).value as string);
        }
        break;
      case "TSImportEqualsDeclaration": {
        const ref = node.moduleReference as Node;
        if (ref.type === "TSExternalModuleReference" && node.importKind !== "type") {
          out.push((ref.expression as Node).value as string);
        }
        break;
      }
      case "TSImportType":
        return; // `typeof import("x")`: a type, never loaded
      case "ImportExpression": {
        const s = literal(node.source);
        if (s !== undefined) out.push(s);
        break;
      }
      case "CallExpression":
        if ((node.callee as Node).type === "Import") {
          const s = literal((node.arguments as unknown[])[0]);
          if (s !== undefined) out.push(s);
        }
        break;
    }
    for (const key in node) {
      if (key === "loc" || key === "start" || key === "end" || key === "extra" || key.endsWith("Comments")) {
        continue;
      }
      const value = node[key];
      if (Array.isArray(value)) {
        for (const v of value) if (v && typeof v === "object" && typeof v.type === "string") visit(v);
      } else if (value && typeof value === "object" && typeof (value as Node).type === "string") {
        visit(value as Node);
      }
    }
  };
  visit(ast.program);
  return out;
}
