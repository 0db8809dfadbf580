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

const open = new Set<number>();

/**
 * Records a descriptor open without close-on-exec: one this process adopted
 * from its parent, or a listening `node:net` socket it made (on Deno 2.9.6
 * those lack the flag; accepted and received sockets have it).
 */
export function noteInherited(fd: number): void {
  open.add(fd);
}

/** The descriptor is closed (or no longer inherited): forget it. */
export function forgetInherited(fd: number): void {
  open.delete(fd);
}

/**
 * The descriptors a child process would inherit, lowest first. A descriptor
 * must be forgotten before (or as) it is closed: a number noted but closed
 * and reused would make a child close a descriptor of its own. (Deno reads
 * `/proc/self/fd` only with all permissions, so the list cannot be checked.)
 */
export function inheritedFds(): number[] {
  return [...open].sort((a, b) => a - b);
}

/**
 * Closes descriptors this process inherited and must not keep (in a plugin
 * host: its server's sockets; in a successor: its predecessor's). `node:fs`
 * refuses to close a descriptor it did not open, so each is wrapped as a
 * socket and destroyed: that closes this descriptor only (no shutdown), so
 * the socket lives on in the process it belongs to. A listening socket is
 * never listened on here (a connection could be accepted by mistake), and a
 * socket pair (an IPC channel) is closed too, which listening on it was not.
 */
export function closeInheritedFds(fds: readonly number[]): Promise<void> {
  for (const fd of fds) {
    if (!Number.isInteger(fd) || fd < 3) continue;
    try {
      const s = new net.Socket({ fd });
      s.on("error", () => {});
      s.destroy();
    } catch { /* not open, or not a socket */ }
  }
  return Promise.resolve();
}
