/**
 * How to start this very sockd again: the compiled binary itself, or, run
 * from source, `deno run -q -P=sockd --config CHECKOUT/deno.json
 * CHECKOUT/main.ts` — the command line `deno task sockd` and the installed
 * shim (install.ts) use, so the permission set stays the one in deno.json.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The checkout this module belongs to, as a directory path ending in "/" (undefined if not on disk). */
export function checkoutDir(): string | undefined {
  const root = new URL("../../", import.meta.url);
  return root.protocol === "file:" ? fileURLToPath(root) : undefined;
}

/**
 * The argv that runs the checkout `dir` (ending in "/") as sockd, with `deno`
 * as the Deno to run it (a name looked up on PATH, or a path).
 *
 * @example
 * ```ts
 * import { sockdRunArgv } from "./self_command.ts";
 * console.assert(sockdRunArgv("/src/sockd/").join(" ") ===
 *   "deno run -q -P=sockd --config /src/sockd/deno.json /src/sockd/main.ts");
 * ```
 */
export function sockdRunArgv(dir: string, deno = "deno"): string[] {
  return [deno, "run", "-q", "-P=sockd", "--config", `${dir}deno.json`, `${dir}main.ts`];
}

/**
 * The argv that starts this sockd again: the compiled binary, or this
 * checkout through the Deno running now; undefined when sockd runs from
 * modules that are not on disk.
 */
export function selfCommand(): string[] | undefined {
  if (Deno.build.standalone) return [Deno.execPath()];
  const dir = checkoutDir();
  return dir === undefined ? undefined : sockdRunArgv(dir, Deno.execPath());
}
