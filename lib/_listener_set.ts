/**
 * The server's listening sockets: each one bound to a path (lib/listener.ts)
 * or adopted from a descriptor systemd passed (lib/_adopted_listener.ts),
 * with its own limits and the sessions and calls it counts. A path socket's
 * connections are `Deno.Conn`s (the fast path); an adopted socket's are
 * `node:net` sockets behind the same session transport.
 *
 * An adopted descriptor is matched to its configuration by name: `--listen
 * fd:NAME,access=read` configures every descriptor systemd named NAME
 * (`FileDescriptorName=`; a .socket unit with several `ListenStream=` gives
 * them all the unit's name). A descriptor no entry names is refused rather
 * than given a default level of access, and so is an entry no descriptor
 * matches: the .socket and .service units disagree.
 *
 * @module
 */
import net, { type Server, type Server as NetServer } from "node:net";
import { resolve } from "node:path";
import type { ActivatedSocket } from "./activation.ts";
import type { AccessLevel } from "./command.ts";
import { type Limits, type ListenerLimits, listenerLimits } from "./limits.ts";
import { bindSocket, ListenError, type ListenOptions } from "./listener.ts";
import type { Logger } from "./log.ts";
import type { Session } from "./session.ts";
import type { CallPool } from "./session_options.ts";
import type { Transport } from "./transport.ts";
import { acceptQueue, adoptListener } from "./_adopted_listener.ts";
import { forgetInherited, noteInherited } from "./_inherited_fds.ts";
import { connTransport } from "./_conn_transport.ts";
import { adoptHandedPath } from "./_handed_listener.ts";
import type { HandedListener } from "./serve_options.ts";

/** One listening socket, whatever made it. */
export interface ListenerSocket {
  /** The socket path, or `fd:NAME` for an adopted descriptor. */
  path: string;
  access: AccessLevel;
  /** The file mode sockd gave it; undefined when the socket is systemd's. */
  mode: number | undefined;
  tookOver: boolean;
  /** "path": bound by this server; "systemd": passed by systemd. */
  origin: "path" | "systemd";
  /** The descriptor's name, for an adopted socket. */
  fdName?: string;
  /** The `node:net` server accepting on it, when there is one: its handle is what a successor takes over. */
  server?: Server;
  /** For a socket bound to a path: its file's inode (the successor checks the file is still this socket's). */
  ino?: number;
  /** A path socket the process this one replaces bound and handed over: its file is shared until this one serves. */
  fromPredecessor?: boolean;
  /** The next connection; rejects with `Deno.errors.BadResource` once closed. */
  accept(): Promise<Transport>;
  /**
   * Stops accepting; a socket bound to a path removes its file unless
   * `keepFile` (a successor process accepts on the same socket now).
   */
  close(options?: { keepFile?: boolean }): void;
}

/** A listening socket and what its connections share: their own limits and counts. */
export interface Listening {
  socket: ListenerSocket;
  limits: ListenerLimits;
  /** The server's limits with this listener's own in place, as its sessions apply them. */
  sessionLimits: Limits;
  sessions: Set<Session>;
  calls: CallPool;
}

/**
 * Binds or adopts every wanted socket; on any failure closes those already
 * open and throws (a {@linkcode ListenError} saying which and why).
 */
export async function openListeners(
  wanted: readonly ListenOptions[],
  activated: readonly ActivatedSocket[],
  limits: Limits,
  logger: Logger,
  options: {
    /** Listening sockets the process this one replaces handed over. */
    handed?: readonly HandedListener[];
    /** Bind paths with `node:net`, whose connections have descriptors a successor can take over. */
    movable?: boolean;
  } = {},
): Promise<Listening[]> {
  const handed = options.handed ?? [];
  const systemdHanded = handed.filter((h) => h.path.startsWith("fd:"));
  const taken = new Set<HandedListener>();
  const open: Listening[] = [];
  const add = (socket: ListenerSocket, own: ListenerLimits) =>
    open.push({
      socket,
      limits: own,
      sessionLimits: {
        ...limits,
        maxCallsPerConnection: own.maxCallsPerConnection,
        idleTimeoutMs: own.idleTimeoutMs,
      },
      sessions: new Set(),
      calls: { inFlight: 0, max: own.maxCalls },
    });
  try {
    // A successor takes its predecessor's sockets instead of systemd's (which it was not passed).
    if (systemdHanded.length === 0) checkNames(wanted, activated);
    for (const l of wanted) {
      const access = l.access ?? "admin";
      // Computed first: nonsense limits are refused before anything is bound.
      const own = listenerLimits(limits, access, l.limits);
      if (l.fdName !== undefined && systemdHanded.length > 0) {
        const mine = systemdHanded.filter((h) => h.path === `fd:${l.fdName}`);
        if (mine.length === 0) {
          throw new ListenError(`--listen fd:${l.fdName}: the server replaced had no such socket`);
        }
        for (const h of mine) {
          taken.add(h);
          const adopted = await adoptListener(h.handle, l.fdName, access, "systemd");
          logger.info("Took over a socket from systemd", { name: l.fdName, access });
          add({ ...adopted, mode: undefined, tookOver: true }, own);
        }
        continue;
      }
      if (l.fdName !== undefined) {
        for (const a of activated.filter((a) => a.name === l.fdName)) {
          const adopted = await adoptListener(a.fd, a.name, access, "systemd");
          logger.info("Listening on a socket from systemd", { name: a.name, fd: a.fd, access });
          add({ ...adopted, mode: undefined, tookOver: false }, own);
        }
        continue;
      }
      // The path socket the replaced process bound: the same socket, so no connection attempt fails.
      const mine = handed.find((h) => !h.path.startsWith("fd:") && h.path === resolve(l.path));
      if (mine) {
        taken.add(mine);
        const adopted = await adoptHandedPath(mine, { ...l, access }, logger);
        if (adopted) {
          add(adopted, own);
          continue;
        }
      }
      if (options.movable) {
        add(await bindMovable(l, logger), own);
        continue;
      }
      const b = await bindSocket(l, logger);
      add({
        path: b.path,
        access: b.access,
        mode: b.mode,
        tookOver: b.tookOver,
        origin: "path",
        accept: async () => connTransport(await b.listener.accept()),
        close: (o) => b.close(o),
      }, own);
    }
  } catch (err) {
    abandonListeners(open);
    throw err;
  } finally {
    // Sockets handed over that nothing here asks for (the configuration changed) are not kept open unaccepted.
    for (const h of handed) {
      if (!taken.has(h)) h.handle.close();
    }
  }
  return open;
}

/**
 * Closes the sockets of a server that failed to start. The files of those
 * the replaced process handed over stay: it still serves on them.
 */
export function abandonListeners(open: readonly Listening[]): void {
  for (const l of open) l.socket.close({ keepFile: l.socket.fromPredecessor === true });
}

/**
 * A path socket whose connections can move to a successor process: a
 * `node:net` server (a `Deno.Conn` exposes no descriptor), bound with the
 * same private-directory dance as Deno's, its connections read through
 * their handles (lib/_handle_transport.ts).
 */
async function bindMovable(l: ListenOptions, logger: Logger): Promise<ListenerSocket> {
  let queue: ReturnType<typeof acceptQueue> | undefined;
  let fd = -1;
  const b = await bindSocket(l, logger, {
    listen: (tmp) =>
      new Promise<NetServer>((resolve, reject) => {
        const server = net.createServer({ allowHalfOpen: true });
        queue = acceptQueue(server);
        server.once("error", reject);
        server.listen({ path: tmp }, () => {
          server.off("error", reject);
          // Errors after listening (EMFILE on accept) must not crash the process; accept goes on.
          server.on("error", () => {});
          // Made without close-on-exec: children are told to close it (lib/_inherited_fds.ts).
          fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
          if (fd > 2) noteInherited(fd);
          resolve(server);
        });
      }),
    close: () => {
      forgetInherited(fd);
      queue?.close();
    },
  });
  return {
    path: b.path,
    access: b.access,
    mode: b.mode,
    tookOver: b.tookOver,
    origin: "path",
    server: b.listener,
    ...(b.ino === null ? {} : { ino: b.ino }),
    accept: () => queue!.accept(),
    close: (o) => b.close(o),
  };
}

/** Every passed descriptor is configured by name, and every `fd:NAME` entry has a descriptor. */
function checkNames(wanted: readonly ListenOptions[], activated: readonly ActivatedSocket[]) {
  const names = new Set(wanted.flatMap((l) => l.fdName === undefined ? [] : [l.fdName]));
  const passed = [...new Set(activated.map((a) => a.name))];
  for (const name of names) {
    if (!passed.includes(name)) {
      throw new ListenError(
        passed.length === 0
          ? `--listen fd:${name}: no sockets were passed by systemd (LISTEN_FDS is not set for this process)`
          : `--listen fd:${name}: systemd passed no socket named "${name}" (it passed: ${passed.join(", ")})`,
      );
    }
  }
  for (const a of activated) {
    if (!names.has(a.name)) {
      throw new ListenError(
        `systemd passed socket "${a.name}" (descriptor ${a.fd}) but no --listen fd:${a.name} says what it may call; ` +
          `add e.g. --listen fd:${a.name},access=read`,
      );
    }
  }
}
