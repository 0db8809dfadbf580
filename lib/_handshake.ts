/**
 * The client's first steps: reaching a UNIX socket it trusts
 * ({@linkcode dialUnix}), and the msgpack greeting on any channel
 * ({@linkcode greet}). `sockd bridge` dials the same way the client does.
 *
 * @module
 */
import type { ByteChannel } from "./byte_channel.ts";
import { decodeFrameBody, MSGPACK_PREFACE } from "./dialects/msgpack.ts";
import { FrameDecoder } from "./dialects/_frame_decoder.ts";
import { SockdError, Status } from "./errors.ts";
import { ownUid, socketOwnerProblem } from "./socket_trust.ts";

/** What the server said about itself on connect. */
export interface ServerHello {
  protocol: number;
  server: string;
  version: string;
  maxFrame: number;
  /** The socket's access level (`read`, `operate`, `admin`); servers before it was added do not say. */
  access?: string;
}

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

/** What {@linkcode greet} read: the hello, the decoder with any partial frame, and frames after it. */
export interface Greeting {
  hello: ServerHello;
  frames: FrameDecoder;
  rest: Record<string, unknown>[];
}

/**
 * Sends the msgpack preface on `conn` and waits up to `timeoutMs` for the
 * server's hello. Closes `conn` and rejects with a {@linkcode SockdError}
 * when the server refuses (its status, `remote` true), closes, or is silent
 * (TIMEOUT).
 */
export async function greet(
  conn: ByteChannel,
  name: string,
  options: { timeoutMs: number; maxFrameBytes: number },
): Promise<Greeting> {
  const { timeoutMs } = options;
  const frames = new FrameDecoder(options.maxFrameBytes);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await conn.write(MSGPACK_PREFACE);
    const greeting = (async () => {
      const buf = new Uint8Array(4096);
      while (true) {
        const n = await conn.read(buf);
        if (n === null) {
          throw new SockdError(Status.CONN_ERROR, `Server at ${name} closed the connection before greeting`);
        }
        const bodies = frames.push(buf.subarray(0, n));
        const msgs = bodies.map((body) => decodeFrameBody(body));
        if (msgs.length === 0) {
          // A server refusing before it knows the dialect answers a text line.
          const line = /^error (\d{3}): ([^\n]*)\n/.exec(new TextDecoder().decode(buf.subarray(0, n)));
          if (line) throw new SockdError(Number(line[1]), line[2]!, { remote: true });
          continue;
        }
        const hello = msgs.shift()!;
        if (hello.type === "end" && typeof hello.status === "number" && hello.status !== Status.OK) {
          // Refused before the greeting, e.g. 109 when the socket's connection limit is reached.
          throw new SockdError(hello.status, String(hello.error ?? "Refused"), { remote: true });
        }
        if (hello.type !== "hello") {
          const why = hello.type === "end" ? `: ${hello.error}` : "";
          throw new SockdError(Status.CONN_ERROR, `Server at ${name} did not greet${why}`);
        }
        return { hello: hello as unknown as ServerHello, frames, rest: msgs };
      }
    })();
    const deadline = new Promise<never>((_, rej) => {
      timer = setTimeout(
        () => rej(new SockdError(Status.TIMEOUT, `Server at ${name} did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return await Promise.race([greeting, deadline]);
  } catch (err) {
    conn.close();
    if (err instanceof SockdError) throw err;
    throw new SockdError(Status.CONN_ERROR, `Connection to ${name} failed: ${(err as Error).message}`, {
      cause: err,
    });
  } finally {
    clearTimeout(timer);
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
