/**
 * Where sockd listens and connects when no `--socket` is given.
 *
 * @module
 */
import { join } from "node:path";

/**
 * `$SOCKD_SOCKET`, else `$XDG_RUNTIME_DIR/sockd.sock`, else
 * `$TMPDIR/sockd-UID/sockd.sock` (a per-user directory, created 0700 by the server).
 */
export function defaultSocketPath(): string {
  const env = (name: string) => {
    try {
      return Deno.env.get(name) || undefined;
    } catch {
      return undefined; // not granted: fall through to the next choice
    }
  };
  const explicit = env("SOCKD_SOCKET");
  if (explicit) return explicit;
  const runtime = env("XDG_RUNTIME_DIR");
  if (runtime) return join(runtime, "sockd.sock");
  return join(env("TMPDIR") ?? "/tmp", `sockd-${Deno.uid() ?? "user"}`, "sockd.sock");
}

/** Creates the per-user directory of the default path (mode 0700) if it is missing. */
export async function ensureSocketDir(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { mode: 0o700 });
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
  }
}
