/**
 * A path socket that the process this one replaces bound and handed over on
 * upgrade: its descriptor came over the upgrade channel, so this process
 * accepts on the very socket the old one did. Its file stays where it is and
 * its queue of connections not yet accepted is kept: no client that connects
 * while the processes change is refused or reset (a new socket renamed over
 * the path would leave the old one's queue to die with it).
 *
 * The file at the path must still be the one the old process made (same
 * inode); if it is gone or another, the path no longer leads to this socket,
 * so it is closed and the caller binds anew.
 *
 * @module
 */
import net from "node:net";
import type { AccessLevel } from "./command.ts";
import { ListenError, type ListenOptions, resolveGroup } from "./listener.ts";
import type { Logger } from "./log.ts";
import type { HandedListener } from "./serve_options.ts";
import type { ListenerSocket } from "./_listener_set.ts";
import { acceptQueue, listenOn } from "./_adopted_listener.ts";

/**
 * Accepts on `handed` (for `options.path`, already resolved) with the mode
 * and group configured; undefined (and the handle closed) when the file at
 * the path is no longer that socket's.
 */
export async function adoptHandedPath(
  handed: HandedListener,
  options: ListenOptions & { access: AccessLevel },
  logger: Logger,
): Promise<ListenerSocket | undefined> {
  const path = handed.path;
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.lstat(path);
  } catch { /* gone */ }
  if (!info?.isSocket || handed.ino === undefined || info.ino !== handed.ino) {
    logger.warn("The socket handed over is no longer at its path; binding a new one", { path });
    handed.handle.close();
    return undefined;
  }
  const mode = options.mode ?? 0o600;
  const server = net.createServer({ allowHalfOpen: true });
  const queue = acceptQueue(server);
  try {
    // The same configuration as the old process's, unless the new one changed it.
    if (info.mode !== null && (info.mode & 0o777) !== mode) await Deno.chmod(path, mode);
    if (options.group !== undefined) {
      const gid = await resolveGroup(options.group);
      if (info.gid !== gid) await Deno.chown(path, null, gid);
    }
    await listenOn(server, handed.handle, `the socket handed over for ${path}`);
  } catch (err) {
    queue.close();
    handed.handle.close();
    throw err instanceof ListenError
      ? err
      : new ListenError(`Cannot take over ${path}: ${(err as Error).message}`);
  }
  // Errors after listening (EMFILE on accept) must not crash the process; accept goes on.
  server.on("error", () => {});
  const ino = handed.ino;
  logger.info("Took over the socket from the server it replaces", {
    path,
    mode: "0" + mode.toString(8),
    access: options.access,
  });
  return {
    path,
    access: options.access,
    mode,
    tookOver: true,
    origin: "path",
    fromPredecessor: true,
    server,
    ino,
    accept: () => queue.accept(),
    close(o = {}) {
      // Received over the channel, the descriptor is close-on-exec: nothing to tell children.
      queue.close();
      if (o.keepFile) return;
      try {
        if (Deno.lstatSync(path).ino === ino) Deno.removeSync(path);
      } catch { /* gone already */ }
    },
  };
}
