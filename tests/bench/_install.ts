/**
 * The installed `sockd` the CLI rows run: `deno task install` with
 * `DENO_INSTALL_ROOT` in the bench cache, so whatever install.ts writes is
 * what is timed. Installed once per bench run, by whichever row needs it
 * first (the cold call, the CLI stream), and shared by the rest.
 *
 * The install root is a fixed path in the checkout (`.bench-cache/install`,
 * gitignored) because deno.json's "bench" set must name the program it runs.
 *
 * @module
 */
import { CACHE } from "./_c_client.ts";
import { ROOT } from "./_processes.ts";

/** Where the bench installs sockd; the "bench" set allows running `${INSTALL_ROOT}/bin/sockd`. */
export const INSTALL_ROOT = `${CACHE}/install`;
const INSTALLED = `${INSTALL_ROOT}/bin/sockd`;

/** Runs `deno task install` into {@linkcode INSTALL_ROOT}; throws with its output when it fails. */
async function installSockd(): Promise<void> {
  const out = await new Deno.Command("deno", {
    args: ["task", "-q", "install"],
    cwd: ROOT,
    env: { DENO_INSTALL_ROOT: INSTALL_ROOT },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(180_000),
  }).output();
  if (!out.success) {
    const dec = new TextDecoder();
    throw new Error(`deno task install failed: ${dec.decode(out.stdout)}${dec.decode(out.stderr)}`);
  }
}

let installing: Promise<string> | undefined;

/**
 * The path of the installed `sockd`, installing it on the first call of
 * this run; later calls share that install (and its failure, if it failed).
 */
export function installedSockd(): Promise<string> {
  return installing ??= installSockd().then(() => INSTALLED);
}
