/**
 * How the sandbox figure gets a server whose bench plugin runs in a sandbox
 * worker (issue 4). Until sandboxed plugins exist, the figure prints as n/a;
 * once they do, fill in {@linkcode SANDBOX_SERVE_ARGS} (the `sockd serve`
 * arguments that run the plugins of a directory sandboxed) and the row
 * measures itself.
 *
 * @module
 */
import { type Env, socketPath, spawnSockd } from "./_env.ts";
import { ROOT, type Scope } from "./_processes.ts";

/**
 * Extra `sockd serve` arguments that put the plugins of `pluginDir` in sandbox
 * workers, or undefined while the suite does not know how.
 */
export const SANDBOX_SERVE_ARGS: ((pluginDir: string) => string[]) | undefined = undefined;

/** A server with the bench plugin sandboxed, or why there is none. */
export interface SandboxSetup {
  /** Socket of a server serving `command` from a sandbox worker. */
  path?: string;
  /** The sandboxed command to call. @default {"bench-ping"} */
  command?: string;
  na?: string;
  note?: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Starts a sockd server running the bench plugin sandboxed, when sockd can. */
export async function sandboxSetup(env: Env, scope: Scope): Promise<SandboxSetup> {
  if (!await exists(`${ROOT}lib/runner/sandbox.ts`)) return { na: "sandbox runner not built yet" };
  if (!SANDBOX_SERVE_ARGS) {
    return {
      na: "sandbox runner not wired into the suite yet (set SANDBOX_SERVE_ARGS in tests/bench/_sandbox.ts)",
    };
  }
  const path = socketPath(env.dir, "sockd-sandbox");
  await spawnSockd({ scope, profileDir: env.profileDir }, "sandbox", path, SANDBOX_SERVE_ARGS(env.pluginDir));
  return { path, command: "bench-ping" };
}
