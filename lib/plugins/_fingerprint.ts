/**
 * What a plugin version is: a digest of its file, its grants and the other
 * code files of its directory (helpers it may import), so a reload can tell
 * what changed.
 *
 * @module
 */
import { extname, join } from "node:path";
import { CONFIG_FILE } from "./config.ts";

const HELPER_EXT = new Set([".ts", ".js", ".mts", ".mjs", ".tsx", ".jsx", ".json"]);

/** A digest of the directory's other code files (helpers a plugin may import). */
export async function helperDigest(dir: string, plugins: string[]): Promise<string> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || e.name === CONFIG_FILE || !HELPER_EXT.has(extname(e.name))) continue;
    if (plugins.includes(join(dir, e.name))) continue;
    names.push(e.name);
  }
  const parts: (string | Uint8Array)[] = [];
  for (const name of names.sort()) {
    parts.push(name);
    parts.push(await Deno.readFile(join(dir, name)).catch(() => new Uint8Array()));
  }
  return await digest(parts);
}

export async function digest(parts: (string | Uint8Array)[]): Promise<string> {
  const enc = new TextEncoder();
  const chunks = parts.map((p) => typeof p === "string" ? enc.encode(p) : p);
  const total = chunks.reduce((n, c) => n + c.length + 1, 0);
  const buf = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    buf.set(c, off);
    off += c.length + 1;
  }
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}
