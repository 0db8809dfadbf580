/**
 * Where sockd listens and connects when no `--socket` is given, whether that
 * place can be trusted, and whom a client trusts to own a socket.
 *
 * @module
 */
import { joinPath as join } from "../_posix_path.ts";
import { privateDirProblem, resolveUser } from "../socket_trust.ts";

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // not granted: fall through to the next choice
  }
}

/**
 * `$SOCKD_SOCKET`, else `$XDG_RUNTIME_DIR/sockd.sock`, else
 * `$TMPDIR/sockd-UID/sockd.sock` (a per-user directory, created 0700 by the server).
 */
export function defaultSocketPath(): string {
  return defaultSocket().path;
}

/** The default socket path, and the private directory it must be in (none for `$SOCKD_SOCKET`). */
export interface DefaultSocket {
  path: string;
  /** The per-user directory the server must own alone (0700), when the path is not explicit. */
  privateDir?: string;
  /** Whether the server may create `privateDir` (the `$TMPDIR` one; never `$XDG_RUNTIME_DIR`). */
  create: boolean;
}

/** Which default applies: see {@linkcode defaultSocketPath}. */
export function defaultSocket(): DefaultSocket {
  const explicit = env("SOCKD_SOCKET");
  if (explicit) return { path: explicit, create: false };
  const runtime = env("XDG_RUNTIME_DIR");
  if (runtime) return { path: join(runtime, "sockd.sock"), privateDir: runtime, create: false };
  const dir = join(env("TMPDIR") ?? "/tmp", `sockd-${Deno.uid() ?? "user"}`);
  return { path: join(dir, "sockd.sock"), privateDir: dir, create: true };
}

/**
 * Makes sure the default socket's directory is this user's alone: a real
 * directory (not a symlink), owned by this uid, mode 0700, as tmux and
 * OpenSSH require. Creates it (0700) when missing and `create` allows;
 * throws an Error naming the path, its owner and mode, and what to do
 * otherwise. Creates nothing when it refuses.
 */
export async function ensurePrivateDir(dir: string, create: boolean): Promise<void> {
  const uid = Deno.uid();
  if (uid === null) return; // no owners on this platform
  try {
    await Deno.lstat(dir);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    if (!create) throw new Error(`Socket directory ${dir} does not exist`);
    try {
      await Deno.mkdir(dir, { mode: 0o700 });
    } catch (e) {
      // Someone made it meanwhile: the check below judges it.
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
  }
  const problem = await privateDirProblem(dir, uid);
  if (problem) throw new Error(`Refusing to start: ${problem}`);
}

/**
 * The uid a client trusts besides its own and root's: `--trust-owner`, else
 * `$SOCKD_TRUST_OWNER`; a user name or a uid. Undefined when neither is set.
 */
export function trustedOwner(flag: string | undefined): number | undefined {
  const given = flag ?? env("SOCKD_TRUST_OWNER");
  return given === undefined ? undefined : resolveUser(given);
}
