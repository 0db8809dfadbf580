/**
 * A session transport over a socket that survives the client's half-close.
 *
 * The session reads with `conn.read()` and writes with `conn.write()`
 * itself: no web streams, no buffer held by the transport. Unlike
 * `Deno.Conn.readable` (which closes the whole socket when it reads
 * end-of-file), `conn.read()` leaves the socket open for writing after
 * end-of-file, so a client that shuts down its write side after its last
 * request (`printf 'ping\n' | nc -NU sock`, socat, `Conn.closeWrite()`)
 * still gets its answers.
 *
 * @module
 */
import type { Transport } from "./transport.ts";

/** The transport of a session on `conn`: the connection itself. */
export function connTransport(conn: Deno.Conn): Transport {
  return conn;
}

/** A client that reset or closed its end under us: it went away, which is its right. */
export function isDrop(err: unknown): boolean {
  if (
    err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BrokenPipe ||
    err instanceof Deno.errors.ConnectionAborted || err instanceof Deno.errors.NotConnected
  ) return true;
  // A socket systemd passed is read through node:net, whose errors carry a code instead.
  const code = (err as { code?: unknown } | null)?.code;
  return code === "ECONNRESET" || code === "EPIPE" || code === "ECONNABORTED";
}
