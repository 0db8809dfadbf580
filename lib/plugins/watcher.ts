/**
 * Watches plugin directories and calls back once changes settle (debounced),
 * so saving a file in an editor (write, rename, chmod...) reloads once.
 *
 * @module
 */
import { basename, extname } from "node:path";
import type { Logger } from "../log.ts";
import { CONFIG_FILE } from "./config.ts";

/** Options of {@linkcode watchPluginDirs}. */
export interface WatchOptions {
  /** Quiet time after the last change before `onChange` runs, in ms. @default {200} */
  debounceMs?: number;
  logger: Logger;
}

/** A running watch; `close` stops it. */
export interface PluginWatcher {
  close(): void;
}

const WATCHED_EXT = new Set([".ts", ".js", ".mts", ".mjs", ".tsx", ".jsx", ".json"]);

/** Whether a changed path can change what the directory serves. */
export function isRelevant(path: string): boolean {
  const name = basename(path);
  if (name.startsWith(".")) return false;
  return name === CONFIG_FILE || WATCHED_EXT.has(extname(name));
}

/**
 * Watches `dirs` (not recursively) and calls `onChange` with the changed
 * paths once no change has come for `debounceMs`.
 *
 * @example
 * ```ts
 * import { watchPluginDirs } from "./watcher.ts";
 * import { silentLogger } from "../log.ts";
 * const dir = await Deno.makeTempDir();
 * const changed = Promise.withResolvers<string[]>();
 * const watcher = watchPluginDirs([dir], changed.resolve, { logger: silentLogger, debounceMs: 50 });
 * await new Promise((r) => setTimeout(r, 50));
 * await Deno.writeTextFile(`${dir}/a.ts`, "export default 1;");
 * const paths = await changed.promise;
 * watcher.close();
 * console.assert(paths.some((p) => p.endsWith("a.ts")));
 * ```
 */
export function watchPluginDirs(
  dirs: readonly string[],
  onChange: (paths: string[]) => void,
  options: WatchOptions,
): PluginWatcher {
  const debounceMs = options.debounceMs ?? 200;
  const pending = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const watchers: Deno.FsWatcher[] = [];

  const fire = () => {
    timer = undefined;
    if (closed || pending.size === 0) return;
    const paths = [...pending].sort();
    pending.clear();
    onChange(paths);
  };

  for (const dir of dirs) {
    let watcher: Deno.FsWatcher;
    try {
      watcher = Deno.watchFs(dir, { recursive: false });
    } catch (err) {
      options.logger.warn("Cannot watch plugin directory", { dir, error: (err as Error).message });
      continue;
    }
    watchers.push(watcher);
    (async () => {
      try {
        for await (const event of watcher) {
          if (event.kind === "access") continue;
          const relevant = event.paths.filter(isRelevant);
          if (relevant.length === 0) continue;
          for (const p of relevant) pending.add(p);
          clearTimeout(timer);
          timer = setTimeout(fire, debounceMs);
        }
      } catch (err) {
        if (!closed) {
          options.logger.warn("Plugin directory watch ended", { dir, error: (err as Error).message });
        }
      }
    })();
  }

  return {
    close() {
      closed = true;
      clearTimeout(timer);
      for (const w of watchers) {
        try {
          w.close();
        } catch { /* closed */ }
      }
    },
  };
}
