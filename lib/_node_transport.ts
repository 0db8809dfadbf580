/**
 * A session transport over a `node:net` socket. Deno cannot make a
 * `Deno.Conn` of a descriptor; `node:net` can, so the connections of
 * `sockd serve` (whose descriptors move on upgrade) and of listeners adopted
 * from a descriptor are `node:net`'s. They are read through their handle
 * (lib/_handle_transport.ts) where Deno's node:net has what that uses; this
 * adapter, over the `net.Socket`, is the way when it has not. It gives the
 * session the same pull-style `read`/`write` it uses on a `Deno.Conn` (see
 * lib/_conn_transport.ts).
 *
 * Reading: chunks the socket emits are queued and copied out by `read`; the
 * socket is paused while more than `HIGH_WATER` bytes wait, so a client
 * cannot fill the server's memory faster than its requests are handled.
 * Writing resolves once the socket has taken the bytes (the session reuses
 * its buffers after that). End-of-file leaves the write side open
 * (`allowHalfOpen`), as the session expects.
 *
 * @module
 */
import type { Socket } from "node:net";
import type { Transport } from "./transport.ts";

/** Bytes queued from the socket before it is paused until `read` catches up. */
const HIGH_WATER = 256 * 1024;

/** A {@linkcode Transport} over a `node:net` socket (created with `allowHalfOpen: true`). */
export class NodeSocketTransport implements Transport {
  readonly socket: Socket;
  #chunks: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #closed = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #interrupted = false;

  // Accepted and received sockets are close-on-exec (measured on Deno 2.9.6): children never inherit them.
  constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued > HIGH_WATER) socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (err: Error) => {
      this.#error ??= err;
      this.#notify();
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#notify();
    });
  }

  /** Bytes received but not yet read: the session must have none left when a connection is handed over. */
  get pending(): number {
    return this.#queued;
  }

  #notify() {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async read(buf: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended || this.#closed) return null;
      if (this.#interrupted) {
        this.#interrupted = false;
        return 0;
      }
      await new Promise<void>((r) => this.#wake = r);
    }
    const n = takeQueued(this.#chunks, buf);
    this.#queued -= n;
    if (this.#queued <= HIGH_WATER && this.socket.isPaused()) this.socket.resume();
    return n;
  }

  /** Ends a pending `read` (or the next) with 0 bytes taken: the session is moving the connection. */
  interrupt(): void {
    this.#interrupted = true;
    this.#notify();
  }

  /**
   * Stops reading the socket for good and returns the bytes received but not
   * read yet: the socket is about to be handed to another process, which
   * must get them first. Nothing more is read here (the descriptor's reads
   * are stopped before control returns to the event loop).
   */
  detach(): Uint8Array {
    const socket = this.socket;
    const handle = (socket as unknown as { _handle?: { readStop?(): unknown; reading?: boolean } })._handle;
    const stop = () => {
      handle?.readStop?.();
      if (handle) handle.reading = false;
    };
    socket.pause();
    stop();
    // What node:net holds in its own buffer (while paused for HIGH_WATER) comes out too.
    let chunk: Uint8Array | null;
    while ((chunk = socket.read() as Uint8Array | null) !== null) this.#chunks.push(chunk);
    stop();
    socket.removeAllListeners("data");
    const out = new Uint8Array(this.#chunks.reduce((n, c) => n + c.length, 0));
    takeQueued(this.#chunks, out);
    this.#queued = 0;
    return out;
  }

  write(bytes: Uint8Array): Promise<number> {
    if (this.#closed || this.socket.destroyed) {
      return Promise.reject(this.#error ?? new Deno.errors.BrokenPipe("Socket is closed"));
    }
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (err) => err ? reject(err) : resolve(bytes.length));
    });
  }

  close(): void {
    this.#closed = true;
    this.socket.destroy();
    this.#notify();
  }
}

/** Moves the first bytes of `chunks` (a queue of received chunks) into `buf`; how many. Both transports read so. */
export function takeQueued(chunks: Uint8Array[], buf: Uint8Array): number {
  let n = 0;
  while (n < buf.length && chunks.length > 0) {
    const chunk = chunks[0]!;
    const take = Math.min(chunk.length, buf.length - n);
    buf.set(take === chunk.length ? chunk : chunk.subarray(0, take), n);
    n += take;
    if (take === chunk.length) chunks.shift();
    else chunks[0] = chunk.subarray(take);
  }
  return n;
}
