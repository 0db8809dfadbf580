/**
 * The transport a {@linkcode Client} speaks over: anything that reads bytes
 * into a buffer, writes bytes, and closes. A `Deno.UnixConn` is one as it
 * is (the client's fast path); {@linkcode streamChannel} makes one of a
 * `ReadableStream`/`WritableStream` pair, such as a child process's pipes
 * (`ssh HOST sockd bridge`) or an in-memory pair in a test.
 *
 * @module
 */

/** A duplex byte transport, shaped like the subset of `Deno.Conn` the client uses. */
export interface ByteChannel {
  /** Reads into `p`; resolves to the byte count, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; resolves to the byte count written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes both directions; pending reads end. Never throws. */
  close(): void;
}

/** A readable and a writable byte stream that form one connection. */
export interface StreamPair {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

/**
 * A {@linkcode ByteChannel} over a stream pair. Reads hand out what the
 * readable yields, in pieces no larger than the caller's buffer (the rest is
 * kept for the next read); writes resolve once the writable accepted the
 * bytes. `close()` closes the writable (the other side sees end of input)
 * and cancels the readable.
 *
 * @example
 * ```ts
 * import { streamChannel } from "sockd";
 * const pipe = new TransformStream<Uint8Array, Uint8Array>();
 * const channel = streamChannel({ readable: pipe.readable, writable: pipe.writable });
 * const wrote = channel.write(new TextEncoder().encode("hello")); // resolves once read
 * const buf = new Uint8Array(3);
 * console.assert(await channel.read(buf) === 3); // "hel"; "lo" waits for the next read
 * console.assert(await channel.read(buf) === 2);
 * await wrote;
 * channel.close();
 * ```
 */
export function streamChannel(pair: StreamPair): ByteChannel {
  const reader = pair.readable.getReader();
  const writer = pair.writable.getWriter();
  let rest: Uint8Array | undefined;
  let closed = false;
  return {
    async read(p: Uint8Array): Promise<number | null> {
      while (!rest || rest.length === 0) {
        if (closed) return null;
        const { value, done } = await reader.read();
        if (done) return null;
        rest = value;
      }
      const n = Math.min(p.length, rest.length);
      p.set(rest.subarray(0, n));
      rest = rest.subarray(n);
      return n;
    },
    async write(p: Uint8Array): Promise<number> {
      if (closed) throw new Deno.errors.BrokenPipe("Channel closed");
      // The stream may keep the chunk: give it a copy the caller cannot change.
      await writer.write(p.slice());
      return p.length;
    },
    close(): void {
      if (closed) return;
      closed = true;
      writer.close().catch(() => {});
      reader.cancel().catch(() => {});
    },
  };
}
