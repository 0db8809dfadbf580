/**
 * A UNIX socket path: stale-file handling, safe file mode, and cleanup.
 *
 * The socket is bound inside a fresh private directory (mode 0700), given
 * its configured mode, and only then hard-linked to its final path, so the
 * path never exists with looser permissions than configured, and a second
 * server racing for the same path fails instead of stealing it. A directory
 * that someone else owns, or that others may write to without the sticky
 * bit, is refused before anything is created in it (see lib/socket_trust.ts).
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import type { AccessLevel } from "./command.ts";
import type { ListenerLimits } from "./limits.ts";
import type { Logger } from "./log.ts";
import { listenDirProblem, ownUid } from "./socket_trust.ts";

/** Largest UNIX socket path Linux accepts (sun_path is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Where and how a server listens. */
export interface ListenOptions {
  /** Socket path (for a socket from systemd, `fd:NAME`, as `status` shows it). */
  path: string;
  /**
   * Adopt the descriptors systemd passed under this name (`LISTEN_FDNAMES`)
   * instead of binding `path`; their file mode and owner are the .socket
   * unit's, so `mode`, `group` and `takeover` do not apply.
   */
  fdName?: string;
  /** File mode of the socket. @default {0o600} */
  mode?: number;
  /** What a connection on this socket may call. @default {"admin"} */
  access?: AccessLevel;
  /** Group owning the socket file (name or gid), so a mode like 0660 admits its members. */
  group?: string | number;
  /**
   * Replace a live server on the path instead of refusing: the new socket is
   * renamed over the old one atomically, so new connections reach this
   * server while the old one's connections carry on.
   * @default {false}
   */
  takeover?: boolean;
  /**
   * This socket's own connection and call limits (defaults from the server's
   * {@linkcode Limits} and the access level; see {@linkcode listenerLimits}).
   */
  limits?: Partial<ListenerLimits>;
}

/** A bound socket; its listener a `Deno.UnixListener` unless another {@linkcode SocketOpener} made it. */
export interface BoundSocket<L = Deno.UnixListener> {
  path: string;
  access: AccessLevel;
  mode: number;
  listener: L;
  /** True when a live server was on the path and this socket replaced it. */
  tookOver: boolean;
  /** The socket file's inode: which file at `path` is this socket's. */
  ino: number | null;
  /**
   * Stops accepting and removes the socket file if it is still ours; with
   * `keepFile`, leaves it (a successor process accepts on the same socket).
   */
  close(options?: { keepFile?: boolean }): void;
}

/** Thrown when the path cannot be used; the message says why and what to do. */
export class ListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ListenError";
  }
}

/** How a listening socket is made on a (private, temporary) path, and closed. */
export interface SocketOpener<L> {
  listen(path: string): L | Promise<L>;
  close(listener: L): void;
}

/** Deno's own listener: the fast path, whose connections are `Deno.Conn`s (no descriptor to hand over). */
const DENO_OPENER: SocketOpener<Deno.UnixListener> = {
  listen: (path) => Deno.listen({ transport: "unix", path }),
  close: (listener) => listener.close(),
};

/**
 * Binds `options.path`, replacing a stale socket file and refusing a live
 * one; the listener is Deno's, or what `opener` makes (a `node:net` server,
 * whose connections have descriptors a successor process can take over).
 */
export function bindSocket(options: ListenOptions, logger: Logger): Promise<BoundSocket>;
export function bindSocket<L>(
  options: ListenOptions,
  logger: Logger,
  opener: SocketOpener<L>,
): Promise<BoundSocket<L>>;
export async function bindSocket<L>(
  options: ListenOptions,
  logger: Logger,
  opener: SocketOpener<L> = DENO_OPENER as unknown as SocketOpener<L>,
): Promise<BoundSocket<L>> {
  const path = resolve(options.path);
  const mode = options.mode ?? 0o600;
  const access = options.access ?? "admin";
  if (new TextEncoder().encode(path).length > MAX_SOCKET_PATH_BYTES) {
    throw new ListenError(
      `Socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes, the limit for UNIX sockets; choose a shorter path`,
    );
  }
  const gid = options.group === undefined ? undefined : await resolveGroup(options.group);
  await checkDir(dirname(path));
  const live = await removeIfStale(path, logger, options.takeover ?? false);

  const dir = await Deno.makeTempDir({ dir: dirname(path), prefix: ".sockd-" }).catch((err) => {
    throw new ListenError(`Cannot create a socket in ${dirname(path)}: ${err.message}`);
  });
  const tmp = join(dir, "s");
  let listener: L | undefined;
  try {
    await Deno.chmod(dir, 0o700);
    listener = await opener.listen(tmp);
    if (gid !== undefined) await Deno.chown(tmp, null, gid);
    await Deno.chmod(tmp, mode);
    if (live) {
      // Takeover: atomically replace the old server's socket file.
      await Deno.rename(tmp, path);
    } else {
      try {
        // link() fails if the path exists: two servers starting at once cannot both win.
        await Deno.link(tmp, path);
      } catch (err) {
        if (err instanceof Deno.errors.AlreadyExists) {
          throw new ListenError(`Another server took ${path} while this one was starting`);
        }
        throw err;
      }
    }
  } catch (err) {
    if (listener !== undefined) opener.close(listener);
    throw err instanceof ListenError
      ? err
      : new ListenError(`Cannot listen on ${path}: ${(err as Error).message}`);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const ino = Deno.lstatSync(path).ino;
  logger.info(live ? "Took over the socket" : "Listening", {
    path,
    mode: "0" + mode.toString(8),
    access,
    ...(gid !== undefined ? { gid } : {}),
  });
  return {
    path,
    access,
    mode,
    listener,
    tookOver: live,
    ino,
    close(options = {}) {
      try {
        opener.close(listener!);
      } catch { /* already closed */ }
      if (options.keepFile) return;
      try {
        // Only remove the file if it is still ours (a takeover may have replaced it).
        if (Deno.lstatSync(path).ino === ino) Deno.removeSync(path);
      } catch { /* gone already */ }
    },
  };
}

/** Refuses a directory where someone else could replace the socket. */
async function checkDir(dir: string) {
  let problem: string | undefined;
  try {
    const uid = ownUid();
    if (uid === undefined) return; // no owners on this platform
    problem = await listenDirProblem(dir, uid);
  } catch (err) {
    throw new ListenError(`Cannot check socket directory ${dir}: ${(err as Error).message}`);
  }
  if (problem) throw new ListenError(`Refusing to listen: ${problem}`);
}

/** Removes a stale socket file; returns true when a live server is there (and `takeover` allows it). */
async function removeIfStale(path: string, logger: Logger, takeover: boolean): Promise<boolean> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw new ListenError(`Cannot inspect ${path}: ${(err as Error).message}`);
  }
  if (!info.isSocket) {
    throw new ListenError(`${path} exists and is not a socket; refusing to replace it`);
  }
  if (await isLive(path)) {
    if (takeover) return true;
    throw new ListenError(
      `A server is already listening on ${path}; stop it first, choose another --socket, or use --takeover`,
    );
  }
  await Deno.remove(path).catch(() => {});
  logger.info("Removed stale socket file", { path });
  return false;
}

/** The gid of a group given by name or number (names are looked up in /etc/group). */
export async function resolveGroup(group: string | number): Promise<number> {
  if (typeof group === "number" || /^\d+$/.test(group)) return Number(group);
  let text: string;
  try {
    text = await Deno.readTextFile("/etc/group");
  } catch (err) {
    throw new ListenError(
      `Cannot look up group "${group}": ${(err as Error).message}; give its number instead`,
    );
  }
  for (const line of text.split("\n")) {
    const [name, , gid] = line.split(":");
    if (name === group && gid !== undefined) return Number(gid);
  }
  throw new ListenError(`Unknown group "${group}" (not in /etc/group)`);
}

/** Whether something accepts connections on `path`. */
export async function isLive(path: string): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.ConnectionRefused) return false;
    throw new ListenError(`Cannot check ${path}: ${(err as Error).message}`);
  }
}
