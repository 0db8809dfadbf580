/**
 * Loads plugin files: every `*.ts`/`*.js` in a directory whose default
 * export is a command or an array of commands.
 *
 * @module
 */
import { extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Command } from "../command.ts";
import { validateCommand } from "../validate_command.ts";

/** A plugin file (or command) that could not be loaded, and why. */
export interface LoadFailure {
  file: string;
  error: string;
}

/** Whether `name` is a plugin file (not a test, declaration, or private `_` file). */
export function isPluginFile(name: string): boolean {
  const ext = extname(name);
  if (ext !== ".ts" && ext !== ".js") return false;
  return !name.startsWith("_") && !name.startsWith(".") && !name.endsWith(".d.ts") &&
    !/_test\.[tj]s$/.test(name);
}

/** The plugin files of `dir`, sorted, as absolute paths. */
export async function listPluginFiles(dir: string): Promise<string[]> {
  const abs = resolve(dir);
  const files: string[] = [];
  for await (const entry of Deno.readDir(abs)) {
    if ((entry.isFile || entry.isSymlink) && isPluginFile(entry.name)) files.push(join(abs, entry.name));
  }
  return files.sort();
}

let generation = 0;

/**
 * Imports one plugin file and validates its default export. Each call
 * imports a fresh copy (so edits are picked up on reload).
 */
export async function loadPluginFile(file: string): Promise<Command[]> {
  const url = pathToFileURL(file);
  url.searchParams.set("v", String(++generation));
  const mod = await import(url.href);
  const exported = mod.default;
  if (exported === undefined) {
    throw new TypeError("No default export: export a command or an array of commands");
  }
  const list = Array.isArray(exported) ? exported : [exported];
  if (list.length === 0) throw new TypeError("The default export is an empty array");
  return list.map((c, i) => {
    try {
      return validateCommand(c);
    } catch (err) {
      throw new TypeError(
        Array.isArray(exported) ? `[${i}]: ${(err as Error).message}` : (err as Error).message,
      );
    }
  });
}
