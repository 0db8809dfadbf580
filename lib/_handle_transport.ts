/**
 * A session transport over the stream handle beneath a `node:net` socket,
 * without the socket: the connections `sockd serve` accepts (and those of an
 * adopted or handed-over listener) are read and written through the handle
 * the listener accepted, and no `net.Socket` (a Duplex stream and its event
 * emitter) is made for them.
 *
 * The handle is Deno's polyfill of libuv's pipe wrap (`PipeWrap`, a
 * `LibUvStreamWrap` in Deno's ext/node/ops/stream_wrap.rs; read in Deno
 * 2.9.5's source, run on 2.9.6): `readStart`/`readStop` start and stop
 * reading, each read lands in the "user buffer" and `onread` is called with
 * its status (bytes, end-of-file or an error) in the shared `streamBaseState`;
 * `writeBuffer` writes at once when the socket takes it all, and otherwise
 * queues the write and calls the request's `oncomplete` when it is done. That
 * API is Node's internal StreamBase, private to the polyfill: every part used
 * here is checked before use ({@linkcode acceptHandles}); when one is missing,
 * connections are `net.Socket`s as before, read through `NodeSocketTransport`
 * (lib/_node_transport.ts). tests/node_transport_test.ts fails if the fast
 * path silently stops being taken.
 *
 * What it saves (Deno 2.9.6, 2 shared cores, interleaved A/B against the
 * `net.Socket` path): server CPU per call with 16 strict connections, pinned,
 * 9.8 -> 6.6 µs (an echo with no session: 5.1 -> 3.5 µs, where a `Deno.Conn`
 * takes 3.6 and the bare handle with no promises 3.2); memory per idle
 * connection 19.2 -> 12.9 KiB (the handle alone ~3.2 KiB, against ~8.3 KiB
 * for a `net.Socket`).
 *
 * @module
 */
import net from "node:net";
import process from "node:process";
import { getSystemErrorName } from "node:util";
import type { Transport } from "./transport.ts";
import { NodeSocketTransport, takeQueued } from "./_node_transport.ts";

/** Bytes queued from the socket before reading stops until `read` catches up. */
const HIGH_WATER = 256 * 1024;

/** libuv's end-of-file status (`UV_EOF`). */
const UV_EOF = -4095;
/** Indexes into the polyfill's `streamBaseState` (Node's src/stream_base.h). */
const READ_BYTES_OR_ERROR = 0;
const LAST_WRITE_WAS_ASYNC = 3;

/**
 * Where every connection's reads land (the handle's "user buffer"): each read
 * is copied out in `onread`, before the next read of any connection, so one
 * buffer serves them all. Without it, the handle allocates a 64 KiB buffer
 * per read, copies what came into a fresh one of the exact size and wraps
 * that in an `ArrayBuffer` (7.9 -> 7.6 µs per call with it, pinned A/B: within
 * the noise, kept for the allocations and the copy it saves).
 */
const INTO = new Uint8Array(64 * 1024);

/** Reads up to this many bytes are copied out of `INTO` by a loop (see `#onread`). */
const SHORT_READ = 32;

/** A write request: the handle calls `oncomplete` when a queued write is done; `buffer` keeps the bytes alive. */
interface WriteReq {
  oncomplete: (status: number) => void;
  buffer: Uint8Array | undefined;
}

/**
 * The request object of the next write, shared by every connection: the
 * handle keeps a request only when it queues the write, so one object serves
 * every write the socket takes at once (an object and a closure less per
 * answer: 6.9 -> 6.6 µs per call, pinned A/B).
 */
let spareReq: WriteReq | undefined;
const noop = () => {};

/** The parts of the polyfill's stream handle used here. */
export interface StreamHandle {
  /** Called after each read into the user buffer; the status (bytes, or an error) is in `streamBaseState`. */
  onread: (() => void) | null;
  useUserBuffer(buf: Uint8Array): void;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: WriteReq, bytes: Uint8Array): number;
  close(cb?: () => void): void;
}

/** Where a handle keeps the transport reading it. */
const TRANSPORT = Symbol("sockd.transport");
type Owned = StreamHandle & { [TRANSPORT]?: HandleTransport };

/** The server's count of open connections, which `server.close()` waits on as node:net's sockets do. */
interface CountedServer {
  _connections: number;
  _emitCloseIfDrained?: () => void;
}

let state: Int32Array | null | undefined;

/** The polyfill's shared stream state (the status of the last read and write), or null without one. */
function streamState(): Int32Array | null {
  if (state !== undefined) return state;
  try {
    const binding = (process as unknown as { binding(name: string): { streamBaseState?: unknown } })
      .binding("stream_wrap");
    const s = binding.streamBaseState;
    state = s instanceof Int32Array && s.length > LAST_WRITE_WAS_ASYNC ? s : null;
  } catch {
    state = null;
  }
  return state;
}

function isStreamHandle(h: unknown): h is StreamHandle {
  const o = h as Partial<Record<keyof StreamHandle, unknown>> | null;
  return typeof o?.readStart === "function" && typeof o.readStop === "function" &&
    typeof o.useUserBuffer === "function" &&
    typeof o.writeBuffer === "function" && typeof o.close === "function";
}

/**
 * Makes `server`'s connections {@linkcode HandleTransport}s: its
 * "connection" listeners get one instead of a `net.Socket`. Node's
 * `Server` makes each socket in `_createSocket(handle)`; this replaces it
 * for `server` alone. False (and `server` left as it was) when the polyfill
 * lacks what the transport uses; a handle that lacks it still becomes a
 * `net.Socket`.
 */
export function acceptHandles(server: net.Server): boolean {
  const s = server as unknown as { _createSocket?: (handle: unknown) => unknown };
  const make = s._createSocket;
  if (typeof make !== "function" || !streamState()) return false;
  s._createSocket = function (this: net.Server, handle: unknown) {
    return isStreamHandle(handle)
      ? new HandleTransport(handle, server as unknown as CountedServer)
      : make.call(this, handle);
  };
  return true;
}

/**
 * The connection of `socket`, a `net.Socket` this process received (a
 * connection its predecessor handed over), read from now on through its
 * handle: the socket gives up the handle and the bytes it had read but not
 * delivered, and is destroyed without closing the descriptor. A socket whose
 * handle cannot be taken (or that already ended, or is being read) stays a
 * `net.Socket`, read through {@linkcode NodeSocketTransport}.
 */
export function socketTransport(socket: net.Socket): HandleTransport | NodeSocketTransport {
  const s = socket as unknown as { _handle: unknown; _readableState?: { ended?: boolean } };
  const handle = s._handle;
  if (
    !isStreamHandle(handle) || !streamState() || socket.destroyed || s._readableState?.ended !== false ||
    socket.readableFlowing === true
  ) return new NodeSocketTransport(socket);
  const early: Uint8Array[] = [];
  let chunk: Uint8Array | null;
  while ((chunk = socket.read() as Uint8Array | null) !== null) early.push(chunk);
  // The socket forgets the handle (node:net keeps its owner on it) and is done with; the descriptor stays open.
  handle.readStop();
  s._handle = null;
  const h = handle as unknown as Record<symbol, unknown>;
  for (const key of Object.getOwnPropertySymbols(h)) if (h[key] === socket) delete h[key];
  socket.destroy();
  return new HandleTransport(handle, undefined, early);
}

function uvError(status: number, syscall: string): Error {
  let code = `E${-status}`;
  try {
    code = getSystemErrorName(status);
  } catch { /* not an errno */ }
  return Object.assign(new Error(`${syscall} ${code}`), { code, errno: status, syscall });
}

/** A {@linkcode Transport} over a stream handle (see the module's documentation); read half-open. */
export class HandleTransport implements Transport {
  #handle: StreamHandle;
  #server: CountedServer | undefined;
  #chunks: Uint8Array[] = [];
  #queued = 0;
  #reading = true;
  #ended = false;
  #closed = false;
  #error: Error | undefined;
  /** A pending `read`: where its bytes go, and how it ends. */
  #buf: Uint8Array | undefined;
  #resolve: ((n: number | null) => void) | undefined;
  #reject: ((err: Error) => void) | undefined;
  #interrupted = false;
  #socket: net.Socket | undefined;

  /**
   * Reads `handle` from now on; `early`: bytes already read from it, to be read first. (Accepted sockets
   * are close-on-exec, measured on Deno 2.9.6: children never inherit them.)
   */
  constructor(handle: StreamHandle, server?: CountedServer, early: Uint8Array[] = []) {
    this.#handle = handle;
    this.#server = server;
    for (const chunk of early) this.#queue(chunk);
    (handle as Owned)[TRANSPORT] = this;
    handle.onread = HandleTransport.#onreadOf;
    handle.useUserBuffer(INTO);
    const err = handle.readStart();
    if (err < 0) this.#error = uvError(err, "read");
  }

  /**
   * Every handle's `onread` (the handle calls it as its method, as Node's do): the transport is a
   * property of the handle, not a closure of its own (a closure and a context, ~100 B per connection).
   */
  static #onreadOf = function (this: Owned) {
    this[TRANSPORT]!.#onread();
  };

  /** Bytes received but not yet read. */
  get pending(): number {
    return this.#queued;
  }

  #onread() {
    const status = streamState()![READ_BYTES_OR_ERROR]!;
    if (status <= 0) {
      if (status === UV_EOF) this.#ended = true;
      else if (status < 0) this.#error ??= uvError(status, "read");
      this.#settle();
      return;
    }
    const buf = this.#buf;
    if (buf !== undefined && this.#chunks.length === 0) {
      // A read is waiting: copy straight into its buffer, queue what does not fit.
      const take = Math.min(status, buf.length);
      // A short read (one request) copied byte by byte: no view of `INTO` made for it, ~6 ns
      // instead of ~45 ns for 5 bytes, in process; `set` wins from ~48 bytes.
      if (take <= SHORT_READ) { for (let i = 0; i < take; i++) buf[i] = INTO[i]!; }
      else buf.set(INTO.subarray(0, take));
      if (take < status) this.#queue(INTO.slice(take, status));
      this.#end(take);
      return;
    }
    this.#queue(INTO.slice(0, status));
    this.#settle();
  }

  #queue(bytes: Uint8Array) {
    this.#chunks.push(bytes);
    this.#queued += bytes.length;
    if (this.#queued > HIGH_WATER && this.#reading) {
      // The client sends faster than its requests are handled: stop reading until `read` catches up.
      this.#reading = false;
      this.#handle.readStop();
    }
  }

  /** Ends the pending read with `n`. */
  #end(n: number | null) {
    const resolve = this.#resolve;
    this.#buf = this.#resolve = this.#reject = undefined;
    resolve?.(n);
  }

  /** Ends the pending read with what there is now, if anything. */
  #settle() {
    if (this.#resolve === undefined) return;
    if (this.#chunks.length > 0) return this.#end(this.#take(this.#buf!));
    if (this.#error) {
      const reject = this.#reject!;
      this.#buf = this.#resolve = this.#reject = undefined;
      return reject(this.#error);
    }
    if (this.#ended || this.#closed) return this.#end(null);
    if (this.#interrupted) {
      this.#interrupted = false;
      this.#end(0);
    }
  }

  /** Copies queued bytes into `buf`. */
  #take(buf: Uint8Array): number {
    const n = takeQueued(this.#chunks, buf);
    this.#queued -= n;
    if (!this.#reading && this.#queued <= HIGH_WATER && !this.#ended && !this.#closed && !this.#socket) {
      this.#reading = true;
      this.#handle.readStart();
    }
    return n;
  }

  read(buf: Uint8Array): Promise<number | null> {
    if (this.#resolve !== undefined) return Promise.reject(new Error("A read is already pending"));
    if (this.#chunks.length > 0) return Promise.resolve(this.#take(buf));
    return new Promise((resolve, reject) => {
      this.#buf = buf;
      this.#resolve = resolve;
      this.#reject = reject;
      this.#settle();
    });
  }

  /** Ends a pending `read` (or the next) with 0 bytes taken: the session is moving the connection. */
  interrupt(): void {
    this.#interrupted = true;
    this.#settle();
  }

  /**
   * Stops reading for good and returns the bytes received but not read yet:
   * the connection is about to be handed to another process, which must get
   * them first. Its `socket` is then the `net.Socket` to hand over.
   */
  detach(): Uint8Array {
    this.#handle.readStop();
    this.#reading = false;
    this.#handle.onread = null;
    (this.#handle as Owned)[TRANSPORT] = undefined;
    const out = new Uint8Array(this.#queued);
    takeQueued(this.#chunks, out);
    this.#queued = 0;
    this.#uncount();
    // node:net sends a socket to another process (child_process `send`); made paused, it reads nothing.
    this.#socket = new net.Socket({
      handle: this.#handle,
      allowHalfOpen: true,
      pauseOnCreate: true,
      readable: true,
      writable: true,
    } as net.SocketConstructorOpts);
    // The handle still reads into the shared buffer (it cannot be unset), and node:net's reader expects
    // each read in an ArrayBuffer of its own: should the socket read here after all, it gets a copy.
    const handle = this.#handle as unknown as { onread: (ab?: ArrayBuffer) => unknown };
    const onread = handle.onread;
    handle.onread = function (ab) {
      const n = streamState()![READ_BYTES_OR_ERROR]!;
      return onread.call(this, ab ?? (n > 0 ? INTO.slice(0, n).buffer : undefined));
    };
    return out;
  }

  /** The socket to hand to another process, once `detach` took the connection out of this transport. */
  get socket(): net.Socket {
    if (this.#socket === undefined) throw new Error("The connection is still read here: detach it first");
    return this.#socket;
  }

  write(bytes: Uint8Array): number | Promise<number> {
    if (this.#closed) return Promise.reject(this.#error ?? new Deno.errors.BrokenPipe("Socket is closed"));
    const req = spareReq ?? { oncomplete: noop, buffer: undefined };
    spareReq = undefined;
    req.buffer = bytes;
    const err = this.#handle.writeBuffer(req, bytes);
    if (err < 0 || streamState()![LAST_WRITE_WAS_ASYNC] === 0) {
      // Failed, or taken whole at once (the usual case for an answer): the handle keeps nothing of `req`.
      req.buffer = undefined;
      spareReq = req;
      return err < 0 ? Promise.reject(uvError(err, "write")) : bytes.length;
    }
    // Queued: the handle calls `oncomplete` once it is written, and keeps `req` (and through it, `bytes`) till then.
    return new Promise((resolve, reject) => {
      req.oncomplete = (status) => status < 0 ? reject(uvError(status, "write")) : resolve(bytes.length);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#socket) this.#socket.destroy();
    else {
      this.#handle.close();
      this.#uncount();
    }
    this.#settle();
  }

  /** The connection is no longer the server's: node:net's `server.close()` may finish without it. */
  #uncount() {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    server._connections--;
    server._emitCloseIfDrained?.();
  }
}
