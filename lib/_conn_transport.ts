/**
 * A session transport over a socket that survives the client's half-close.
 *
 * `Deno.Conn.readable` closes the whole socket when it reads end-of-file, so
 * a client that shuts down its write side after its last request
 * (`printf 'ping\n' | nc -NU sock`, socat, `Conn.closeWrite()`) would never
 * get its answers. This readable reads with `conn.read()`, which leaves the
 * socket open for writing after end-of-file.
 *
 * @module
 */
import type { Transport } from "./session.ts";

/**
 * Bytes asked for per read: small while a connection is idle or chatty (an
 * idle connection holds its read buffer the whole time), doubling while
 * reads fill the buffer, up to the largest.
 */
const MIN_READ_BYTES = 2 * 1024;
const MAX_READ_BYTES = 64 * 1024;
/** Reads up to this size are copied out, so the read buffer is reused rather than kept alive by a small chunk. */
const COPY_BELOW = 8 * 1024;

/** Wraps `conn` so that reading to end-of-file does not close it. */
export function connTransport(conn: Deno.Conn): Transport {
  let done = false;
  let buf = new Uint8Array(MIN_READ_BYTES);
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (err) {
        if (!done) controller.error(err);
        done = true;
        return;
      }
      if (done) return;
      if (n === null) {
        done = true;
        controller.close();
      } else {
        const full = n === buf.length;
        if (n <= COPY_BELOW) {
          controller.enqueue(buf.slice(0, n));
        } else {
          controller.enqueue(buf.subarray(0, n));
          buf = new Uint8Array(buf.length);
        }
        // More was probably waiting: read more at a time, up to the largest size.
        if (full && buf.length < MAX_READ_BYTES) buf = new Uint8Array(buf.length * 2);
        // Little arrives now: shrink back, so an idle connection holds little.
        else if (n < buf.length / 8 && buf.length > MIN_READ_BYTES) buf = new Uint8Array(buf.length / 2);
      }
    },
    // Stop reading; the session closes the socket itself when it is done writing.
    cancel() {
      done = true;
    },
  }, { highWaterMark: 0 });
  return { readable, writable: conn.writable, close: () => conn.close() };
}
