/**
 * The plugin host process: one per plugin file, started by the server (see
 * `host_process.ts`) with the plugin file and its grants as its argument.
 *
 * Its main module is trusted sockd code and does three things: it starts the
 * plugin in a Worker holding only the plugin's grants (in a compiled binary
 * the process's own permissions are baked in, so this is where grants are
 * enforced, from source as well, so both run the same way); it drops every
 * permission of its own that no grant needs; and it exits when the server
 * goes away. The worker talks to the server itself, over the process's
 * stdin and stdout; when it ends, nothing is left and the process exits.
 *
 * @module
 */
import { basename, dirname } from "node:path";
import { pathToFileURL } from "node:url";
import type { PluginGrants } from "../command.ts";
import { grantsNotHeld, workerPermissions } from "./grants.ts";
import { closeInheritedFds } from "../_inherited_fds.ts";

/** The argument the server passes to a host. */
export interface HostSpec {
  /** Absolute path of the plugin file. */
  file: string;
  grants: PluginGrants;
  /** Resident memory, in MiB, past which the host ends itself. */
  rssLimitMiB: number;
  /** The server's sockets this process inherited (see lib/_inherited_fds.ts): closed before the plugin starts. */
  closeFds?: number[];
  /**
   * SHA-256 (hex) of the plugin file as the server loaded this version: a
   * host started later (a call after an idle stop, a restart) refuses other
   * content rather than run code that did not load as this version.
   */
  sha256?: string;
  /**
   * Check the imports of the plugin's module graph before it loads (see
   * lib/plugins/import_policy.ts); absent when it is granted `"import": true`.
   */
  imports?: { allow: string[]; configFile: string };
}

/** The exit code of a host that went over its memory cap. */
export const MEMORY_EXIT = 75;

/** The exit code of a host whose plugin file no longer holds its version's code. */
export const STALE_EXIT = 79;

/** The hidden subcommand that runs a host in a compiled binary. */
export const HOST_SUBCOMMAND = "__plugin-host";

const HARNESS = new URL("./_host_worker.ts", import.meta.url).href;
const KINDS = ["read", "write", "net", "env", "run", "sys", "ffi", "import"] as const;

/** Runs a host for `spec` (JSON); resolves once the worker is started. */
export async function hostMain(spec: string): Promise<void> {
  const { file, grants, rssLimitMiB, closeFds, sha256, imports } = JSON.parse(spec) as HostSpec;
  // The sockd set grants ffi for the server's malloc_trim (lib/cli/_idle_memory.ts); a host never needs it.
  Deno.permissions.revokeSync({ name: "ffi" });
  if (closeFds?.length) await closeInheritedFds(closeFds);
  const missing = await grantsNotHeld(grants);
  if (missing.length > 0) {
    fatal(`it is granted ${missing.join(", ")}, which sockd itself does not hold (its permission set)`, 78);
  }
  if (sha256 !== undefined) {
    const bytes = await Deno.readFile(file).catch((err) =>
      fatal(`Cannot read ${basename(file)}: ${err.message}`, 78)
    );
    if (await contentDigest(bytes) !== sha256) {
      fatal(
        `${basename(file)} changed on disk since this version loaded: reload to serve what it holds now`,
        STALE_EXIT,
      );
    }
  }
  if (imports) {
    // Here, not in the server: the parser (and what a hostile source makes it hold) lives and dies with
    // this process, under the plugin's memory cap, and the server never loads it.
    const { checkPluginImports } = await import("../plugins/import_policy.ts");
    await checkPluginImports(file, { dir: dirname(file), ...imports })
      .catch((err) => fatal((err as Error).message, 78));
  }
  const source = `import { start } from ${JSON.stringify(HARNESS)};\n` +
    `import * as plugin from ${JSON.stringify(pathToFileURL(file).href)};\n` +
    `start(plugin);\n`;
  const worker = new Worker(`data:application/javascript,${encodeURIComponent(source)}`, {
    type: "module",
    name: `sockd plugin ${file}`,
    deno: { permissions: workerPermissions(grants) },
  });
  worker.onerror = (e) => {
    // A load failure (syntax, module not found) or an error the harness did
    // not catch: the server reads it from stderr.
    e.preventDefault();
    fatal(e.message, 70);
  };
  // Defence in depth: once the plugin's module graph has loaded (Deno loads
  // a worker's modules with this process's permissions), the process keeps
  // only what some grant needs.
  worker.onmessage = async (e) => {
    if (e.data !== "loaded") return;
    worker.onmessage = null;
    for (const kind of KINDS) {
      if (kind === "ffi" || grants[kind as keyof PluginGrants] === undefined) {
        await Deno.permissions.revoke({ name: kind } as Deno.PermissionDescriptor).catch(() => {});
      }
    }
  };
  // This thread is not the plugin's, so it runs even while the plugin spins:
  // it keeps the memory cap (V8's heap cap does not count buffers) and goes
  // when the server has died without a word (the host is orphaned).
  const parent = Deno.ppid;
  const limit = (rssLimitMiB || 384) * 1024 * 1024;
  let ticks = 0;
  const watch = setInterval(() => {
    const rss = Deno.memoryUsage().rss;
    if (rss > limit) fatal(`resident memory reached ${Math.round(rss / 1048576)} MiB`, MEMORY_EXIT);
    if (++ticks % 5 === 0 && Deno.ppid !== parent) Deno.exit(0);
  }, 100);
  Deno.unrefTimer(watch);
}

/** SHA-256 of a plugin file's bytes, in hex: what {@linkcode HostSpec.sha256} holds. */
export async function contentDigest(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fatal(message: string, code: number): never {
  Deno.stderr.writeSync(new TextEncoder().encode(`sockd-host: ${message}\n`));
  Deno.exit(code);
}

if (import.meta.main) await hostMain(Deno.args[0] ?? "{}");
