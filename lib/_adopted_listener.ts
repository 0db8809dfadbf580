/**
 * A listening socket this process did not bind: a descriptor systemd passed
 * (socket activation), adopted with `node:net` (`listen({ fd })`), whose
 * connections are read through their handles (lib/_handle_transport.ts). The
 * socket file (if any) belongs to whoever made it: its mode and owner are the
 * .socket unit's, and closing only stops accepting here.
 *
 * @module
 */
import net from "node:net";
import type { AccessLevel } from "./command.ts";
import { NodeSocketTransport } from "./_node_transport.ts";
import { acceptHandles, HandleTransport } from "./_handle_transport.ts";
import { forgetInherited, noteInherited } from "./_inherited_fds.ts";
import type { ListenHandle } from "./serve_options.ts";

/** Where an adopted listener came from. */
export type ListenerOrigin = "systemd";

/** A listener adopted from a descriptor. */
export interface AdoptedListener {
  /** What it is called in `status` and logs: `fd:NAME`. */
  path: string;
  access: AccessLevel;
  origin: ListenerOrigin;
  /** The descriptor's name (`LISTEN_FDNAMES`). */
  fdName: string;
  fd: number;
  /** The `node:net` server accepting on it: what is handed to a successor process. */
  server: net.Server;
  /** The next connection; rejects with `Deno.errors.BadResource` once closed. */
  accept(): Promise<MovableTransport>;
  /** Stops accepting (the socket file, if any, is left to its owner). */
  close(): void;
}

/** Thrown when a descriptor cannot be adopted as a listening socket. */
export class AdoptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AdoptError";
  }
}

/** How long adopting one descriptor may take. */
const ADOPT_TIMEOUT_MS = 5000;

/**
 * Starts accepting on listening socket `fd`, or on `handle`: the handle of
 * a listening socket the process this one replaced handed over.
 */
export async function adoptListener(
  source: number | ListenHandle,
  fdName: string,
  access: AccessLevel,
  origin: ListenerOrigin,
): Promise<AdoptedListener> {
  const handed = typeof source !== "number";
  const server = net.createServer({ allowHalfOpen: true });
  const queue = acceptQueue(server);
  const fd = handed ? source.fd : source;
  await listenOn(server, source, `descriptor ${fd} (${fdName})`);
  // Errors after listening (e.g. EMFILE on accept) must not crash the process; accept goes on.
  server.on("error", () => {});
  // Inherited without close-on-exec: children are told to close it (lib/_inherited_fds.ts). One handed
  // over (received on the upgrade channel) is close-on-exec already.
  if (!handed) noteInherited(fd);
  return {
    path: `fd:${fdName}`,
    access,
    origin,
    fdName,
    fd,
    server,
    accept: queue.accept,
    close() {
      if (queue.close()) forgetInherited(fd);
    },
  };
}

/** A connection that can move to another process: read through its handle, or through a `net.Socket`. */
export type MovableTransport = HandleTransport | NodeSocketTransport;

/**
 * The connections of a `node:net` server, pulled one at a time: each a
 * {@linkcode HandleTransport} where Deno's node:net has what it needs, else a
 * {@linkcode NodeSocketTransport} (read half-open). Attached before the
 * server listens, so no connection is missed. `close` stops the server and
 * closes connections not yet accepted; it returns false when already closed.
 */
export function acceptQueue(server: net.Server): {
  accept(): Promise<MovableTransport>;
  close(): boolean;
} {
  const queue: MovableTransport[] = [];
  let waiting: { resolve: (t: MovableTransport) => void; reject: (e: Error) => void } | undefined;
  let closed = false;
  // A handed-over server's connections are read half-open too.
  (server as unknown as { allowHalfOpen: boolean }).allowHalfOpen = true;
  acceptHandles(server);
  server.on("connection", (conn: net.Socket | HandleTransport) => {
    const transport = conn instanceof HandleTransport ? conn : new NodeSocketTransport(conn);
    if (closed) return transport.close();
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w.resolve(transport);
    } else queue.push(transport);
  });
  return {
    accept() {
      const next = queue.shift();
      if (next) return Promise.resolve(next);
      if (closed) return Promise.reject(new Deno.errors.BadResource("Listener is closed"));
      return new Promise((resolve, reject) => waiting = { resolve, reject });
    },
    close() {
      if (closed) return false;
      closed = true;
      server.close();
      for (const t of queue.splice(0)) t.close();
      waiting?.reject(new Deno.errors.BadResource("Listener is closed"));
      waiting = undefined;
      return true;
    },
  };
}

/**
 * Listens on descriptor `source`, or on a handle received from the process
 * this one replaces, within a deadline; `what` names it in errors.
 */
export function listenOn(server: net.Server, source: number | ListenHandle, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      server.close();
      reject(new AdoptError(`${capitalize(what)} did not start listening within ${ADOPT_TIMEOUT_MS} ms`));
    }, ADOPT_TIMEOUT_MS);
    server.once("error", (err: Error) => {
      clearTimeout(timer);
      reject(new AdoptError(`Cannot listen on ${what}: ${err.message}`));
    });
    // node:net listens on a handle as it is (Node's `server.listen(handle)`), and on a bare descriptor.
    server.listen(typeof source === "number" ? { fd: source } : source as never, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
