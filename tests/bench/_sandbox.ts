/**
 * How the sandbox figure gets a server whose bench plugin runs in a sandbox
 * worker: the same plugin file in a directory of its own, without the
 * `"sandbox": false` grant the main bench plugin directory has (plugins are
 * sandboxed by default).
 *
 * @module
 */
import { type Env, socketPath, spawnSockd } from "./_env.ts";
import { ROOT, type Scope } from "./_processes.ts";

/** A server with the bench plugin sandboxed, or why there is none. */
export interface SandboxSetup {
  /** Socket of a server serving `command` from a sandbox worker. */
  path?: string;
  /** The sandboxed command to call. @default {"bench-ping"} */
  command?: string;
  na?: string;
  note?: string;
}

/** Starts a sockd server running the bench plugin sandboxed. */
export async function sandboxSetup(env: Env, scope: Scope): Promise<SandboxSetup> {
  const dir = `${env.dir}/plugins-sandboxed`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.copyFile(`${ROOT}tests/bench/fixtures/bench_commands.ts`, `${dir}/bench_commands.ts`);
  const path = socketPath(env.dir, "sockd-sandbox");
  await spawnSockd({ scope, profileDir: env.profileDir }, "sandbox", path, ["--plugins", dir]);
  return { path, command: "bench-ping" };
}
