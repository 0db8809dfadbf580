/**
 * Reaching a UNIX socket the client trusts: the owner checks of
 * socket_trust.ts, then `Deno.connect`, with the errors a user reads. Its
 * own module, free of the msgpack codec, so that a one-shot `sockd call`
 * dials without loading msgpackr (see lib/cli/_oneshot_client.ts).
 *
 * @module
 */
import { SockdError, Status } from "./errors.ts";
import { ownUid, socketOwnerProblem } from "./socket_trust.ts";

/** Whose socket to trust: see `ConnectOptions`. */
export interface DialOptions {
  /** Check the socket's owner before connecting. @default {true} */
  checkOwner?: boolean;
  /** One more uid trusted to own the socket. */
  trustOwner?: number;
}

/**
 * Connects to the UNIX socket at `path` once its owner is trusted; rejects
 * with CONN_ERROR (103) saying why not (nobody listens, a stranger owns it,
 * permission denied).
 */
export async function dialUnix(path: string, options: DialOptions = {}): Promise<Deno.UnixConn> {
  try {
    // The checked path, symlinks resolved: a link swapped after the check changes nothing.
    const target = options.checkOwner === false ? path : trustedPath(path, options.trustOwner);
    return await Deno.connect({ transport: "unix", path: target });
  } catch (err) {
    if (err instanceof SockdError) throw err;
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.ConnectionRefused) {
      throw new SockdError(Status.CONN_ERROR, `No server at ${path} (is sockd serve running?)`, {
        cause: err,
      });
    }
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new SockdError(
        Status.CONN_ERROR,
        `Permission denied connecting to ${path} (check the socket's owner and mode)`,
        { cause: err },
      );
    }
    throw new SockdError(Status.CONN_ERROR, `Cannot connect to ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * `path` with symlinks resolved, once the socket and its directory are
 * found to belong to this process's uid, root, or `trustOwner`.
 */
function trustedPath(path: string, trustOwner: number | undefined): string {
  let uid: number | undefined;
  try {
    uid = ownUid();
  } catch (err) {
    throw new SockdError(Status.CONN_ERROR, `${(err as Error).message}, or pass checkOwner: false`);
  }
  if (uid === undefined) return path; // no owners on this platform
  const trusted = new Set([uid, 0, ...(trustOwner === undefined ? [] : [trustOwner])]);
  const check = socketOwnerProblem(path, trusted);
  if (check.ok) return check.path;
  if (check.notSocket) {
    throw new SockdError(Status.CONN_ERROR, `${check.problem} (no server listens there; is the path right?)`);
  }
  throw new SockdError(
    Status.CONN_ERROR,
    `${check.problem}; refusing to send anything. If that account runs the server, trust it with --trust-owner ${
      check.owner ?? "UID"
    } (or SOCKD_TRUST_OWNER)`,
    { details: { owner: check.owner } },
  );
}
