/**
 * Descriptors this process was handed without the close-on-exec flag: the
 * listening sockets systemd passes, and whatever a process passes to its
 * successor. Every process this one starts would inherit them (Deno offers
 * no way to set FD_CLOEXEC), and a descriptor needs no permission to use: a
 * sandboxed plugin could accept connections on the admin socket with
 * `net.createServer().listen({ fd })`. So the server lists them here, tells
 * each plugin host (lib/runner/host_main.ts), and the host closes them
 * before any plugin code runs.
 *
 * @module
 */
import net from "node:net";

/** Each descriptor, with what `/proc/self/fd` said it was when noted (undefined where there is no `/proc`). */
const open = new Map<number, string | undefined>();

/** What `/proc/self/fd/N` says descriptor `fd` is (`socket:[INODE]`); undefined when it cannot tell. */
export function fdIdentity(fd: number): string | undefined {
  try {
    return Deno.readLinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/**
 * Records a descriptor open without close-on-exec: one this process adopted
 * from its parent, or a `node:net` socket it made (Deno sets the flag on its
 * own sockets, `node:net` does not).
 */
export function noteInherited(fd: number): void {
  open.set(fd, fdIdentity(fd));
}

/** The descriptor is closed (or no longer inherited): forget it. */
export function forgetInherited(fd: number): void {
  open.delete(fd);
}

/**
 * The descriptors a child process would inherit, lowest first: those noted
 * that are still what they were when noted (a number closed and reused for
 * something else is left out, so a child never closes a descriptor of its own).
 */
export function inheritedFds(): number[] {
  return [...open].filter(([fd, id]) => id === undefined || fdIdentity(fd) === id).map(([fd]) => fd)
    .sort((a, b) => a - b);
}

/** How long closing one descriptor may take. */
const CLOSE_TIMEOUT_MS = 2000;

/**
 * Closes descriptors this process inherited and must not keep (in a plugin
 * host: its server's sockets). `node:fs` refuses to close a descriptor it did
 * not open, so each is adopted as a socket and destroyed: a listening socket
 * as a server, any other as a connection.
 */
export async function closeInheritedFds(fds: readonly number[]): Promise<void> {
  for (const fd of fds) {
    if (!Number.isInteger(fd) || fd < 3) continue;
    const asListener = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      const timer = setTimeout(() => resolve(false), CLOSE_TIMEOUT_MS);
      server.once("error", () => {
        clearTimeout(timer);
        server.close();
        resolve(false);
      });
      server.listen({ fd }, () => {
        clearTimeout(timer);
        server.close(() => resolve(true));
      });
    });
    if (asListener) continue;
    try {
      new net.Socket({ fd }).destroy();
    } catch { /* not open, or not a socket */ }
  }
}
