/**
 * The msgpack client used by the CLI and by library users.
 *
 * @module
 */
import type { ByteChannel } from "./byte_channel.ts";
import { Call } from "./client_call.ts";
import { readFrames, type ReadOptions } from "./_client_reader.ts";
import { CallTable } from "./_client_call_table.ts";
import { FrameWriter } from "./_frame_writer.ts";
import { SockdError, Status } from "./errors.ts";
import { dialUnix, greet, type ServerHello } from "./_handshake.ts";
import { decodeFrameBody } from "./dialects/msgpack.ts";
import { readOkEnd, readSmallMap } from "./dialects/_small_msgpack.ts";
import {
  cancelOnAbort,
  chunkOf,
  closedByServer,
  endAll,
  endCall,
  mayStart,
  pumpInput,
  readFailure,
  WRITE_FAILURE_GRACE_MS,
} from "./_client_calls.ts";

export { Call };
export type { ServerHello };

/** Options of {@linkcode connect}. */
export interface ConnectOptions {
  /** Time to connect and receive the server's hello, in ms. @default {5000} */
  timeoutMs?: number;
  /** Largest frame accepted from the server. @default {16777216} */
  maxFrameBytes?: number;
  /**
   * Before sending anything, check whom the socket belongs to: the socket
   * (after symlinks) and its directory must be owned by this process's uid,
   * by root, or by `trustOwner`, and the directory must not let others
   * replace the socket. Otherwise `connect` rejects with CONN_ERROR (103)
   * naming the owner it found. Needs `--allow-sys=uid`. Turn it off only for
   * a socket whose directory you checked yourself.
   * @default {true}
   */
  checkOwner?: boolean;
  /** One more uid trusted to own the socket: the service account that runs the server. */
  trustOwner?: number;
}

/** Options of {@linkcode Client.call}. */
export interface CallOptions {
  /** Aborting it cancels the call on the server (which answers 106). */
  signal?: AbortSignal;
  /** Deadline for the call, in ms; the server enforces it (104). */
  timeoutMs?: number;
  /** Bytes to send as the command's input stream. */
  input?: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Uint8Array | string;
}

/**
 * A connection to a sockd server, speaking the framed msgpack dialect.
 * Several calls may run at once.
 */
export class Client {
  /** The socket path (or, over another channel, the name given to {@linkcode connectChannel}). */
  readonly path: string;
  /** The server's hello. */
  readonly server: ServerHello;
  /** Resolves when the connection has closed, for whatever reason. */
  readonly closed: Promise<void>;
  #conn: ByteChannel;
  #calls = new CallTable<Call>();
  #pings = new Map<number, () => void>();
  #nextId = 1;
  #dead: SockdError | undefined;
  #writer: FrameWriter;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  /** {@linkcode Client.#fail}, made once (not a closure per end frame). */
  readonly #failWith = (err: SockdError) => this.#fail(err);

  /** @internal use {@linkcode connect}. */
  constructor(
    path: string,
    conn: ByteChannel,
    hello: ServerHello,
    read: ReadOptions,
    pending: Record<string, unknown>[],
  ) {
    this.path = path;
    this.server = hello;
    this.#conn = conn;
    // Do not close the socket when a write fails: the server may have closed after explaining why
    // (e.g. 108 for a frame over its limit), and the read loop must still deliver that. If it does
    // not end the connection promptly, the failed write is the answer.
    this.#writer = new FrameWriter(conn, path, (lost) => {
      if (!this.#dead) this.#graceTimer ??= setTimeout(() => this.#fail(lost), WRITE_FAILURE_GRACE_MS);
    });
    this.closed = this.#readLoop(read, pending);
  }

  /**
   * Starts a call. Iterate the returned {@linkcode Call} for chunks (they are
   * buffered until read; after 256 unread chunks the connection pauses), and
   * await its `result`.
   *
   * @example
   * ```ts
   * import { connect, serve } from "sockd";
   * const path = `${await Deno.makeTempDir()}/s.sock`;
   * const server = await serve({ path });
   * const client = await connect(path);
   * console.assert(await client.call("echo", ["hi", "there"]).result === "hi there");
   * client.close();
   * await server.close();
   * ```
   */
  call(command: string, args: readonly string[] = [], options: CallOptions = {}): Call {
    const id = this.#nextId++;
    const call = new Call(id, this);
    const { signal, input } = options;
    if (!mayStart(call, this.#dead, signal)) return call;
    this.#calls.set(id, call);
    // A failed write ends the call through the connection's failure: nobody waits on this one.
    this.#writer.postCall(id, command, args, input !== undefined, options.timeoutMs);
    if (signal) cancelOnAbort(call, signal);
    if (input !== undefined) pumpInput(call, input, (message) => this.#send(message));
    return call;
  }

  /** @internal asks the server to cancel call `id` (see {@linkcode Call.cancel}). */
  _cancel(id: number): void {
    if (!this.#dead) this.#writer.send({ type: "cancel", id }).catch(() => {});
  }

  /** Measures one round trip to the server, in ms. */
  async ping(): Promise<number> {
    const id = this.#nextId++;
    const t0 = performance.now();
    const pong = new Promise<void>((r) => this.#pings.set(id, r));
    await this.#send({ type: "ping", id });
    await Promise.race([pong, this.closed.then(() => Promise.reject(this.#dead))]);
    return performance.now() - t0;
  }

  /** Closes the connection; calls in flight end with CONN_ERROR. */
  close(): void {
    this.#fail(new SockdError(Status.CONN_ERROR, "Client closed the connection"));
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  /** Queues a frame; resolves once it is written. */
  #send(message: Record<string, unknown>): Promise<void> {
    if (this.#dead) return Promise.reject(this.#dead);
    return this.#writer.send(message);
  }

  async #readLoop(read: ReadOptions, pending: Record<string, unknown>[]): Promise<void> {
    try {
      for (const msg of pending) await this.#onMessage(msg);
      await readFrames(this.#conn, {
        call: (id) => this.#calls.get(id),
        okEnd: (body) => {
          const end = readOkEnd(body, 0, body.length);
          if (end) this.#ended(end.id, end.result);
          return end !== undefined;
        },
        message: (msg) => this.#onMessage(msg),
        dead: () => this.#dead !== undefined,
      }, read);
      this.#fail(this.#writer.failed ?? closedByServer(this.path));
    } catch (err) {
      this.#fail(readFailure(err, this.path));
    } finally {
      try {
        this.#conn.close();
      } catch { /* already closed */ }
    }
  }

  /**
   * Call `id` ended OK with `result`: straight to the call, with no message
   * object and no dispatch on its type (64 calls in flight, in process:
   * 0.578 -> 0.551 µs per call, min of 15 runs).
   */
  #ended(id: number, result: unknown) {
    const call = this.#calls.get(id);
    if (call === undefined) return;
    this.#calls.delete(id);
    call._end(undefined, result);
  }

  /** Handles one message from the server; a promise when the reader should wait (a call's chunks pile up). */
  #onMessage(msg: Record<string, unknown>): Promise<void> | undefined {
    const id = msg.id;
    switch (msg.type) {
      case "data":
        return this.#calls.get(id as number)?._data(chunkOf(msg));
      case "end":
        endCall(msg, this.#calls, this.#failWith);
        return undefined;
      case "pong":
        this.#pings.get(id as number)?.();
        this.#pings.delete(id as number);
        return undefined;
    }
    return undefined;
  }

  #fail(err: SockdError) {
    clearTimeout(this.#graceTimer);
    if (this.#dead) return;
    this.#dead = err;
    this.#writer.stop(err);
    endAll(this.#calls, err);
  }
}

/**
 * Connects to the sockd server at `path`.
 *
 * Rejects with a CONN_ERROR (103) {@linkcode SockdError} when nobody listens
 * there, and TIMEOUT (104) when the server does not greet in time.
 *
 * @example
 * ```ts
 * import { connect, serve } from "sockd";
 * const path = `${await Deno.makeTempDir()}/s.sock`;
 * const server = await serve({ path });
 * const client = await connect(path);
 * console.assert(client.server.server === "sockd");
 * console.assert(await client.call("ping").result === "pong");
 * client.close();
 * await server.close();
 * ```
 */
export async function connect(path: string, options: ConnectOptions = {}): Promise<Client> {
  const conn = await dialUnix(path, options);
  return await handshake(conn, path, options);
}

/** Options of {@linkcode connectChannel}. */
export interface ChannelConnectOptions {
  /** Names the far end in error messages and as `Client.path` (e.g. `host:/run/app.sock`). */
  name: string;
  /** Time to receive the server's hello, in ms. @default {5000} */
  timeoutMs?: number;
  /** Largest frame accepted from the server. @default {16777216} */
  maxFrameBytes?: number;
}

/**
 * Speaks the msgpack dialect over any {@linkcode ByteChannel}: a child
 * process's pipes (`ssh HOST sockd bridge`), or an in-memory pair. The
 * channel is closed when the greeting fails and when the client closes.
 *
 * @example
 * ```ts
 * import { connectChannel, serve, streamChannel } from "sockd";
 * const path = `${await Deno.makeTempDir()}/s.sock`;
 * const server = await serve({ path });
 * const conn = await Deno.connect({ transport: "unix", path });
 * const client = await connectChannel(streamChannel(conn), { name: "over streams" });
 * console.assert(await client.call("ping").result === "pong");
 * client.close();
 * await server.close();
 * ```
 */
export async function connectChannel(channel: ByteChannel, options: ChannelConnectOptions): Promise<Client> {
  return await handshake(channel, options.name, options);
}

async function handshake(
  channel: ByteChannel,
  name: string,
  options: { timeoutMs?: number; maxFrameBytes?: number },
): Promise<Client> {
  const maxFrameBytes = options.maxFrameBytes ?? 16 * 1024 * 1024;
  const greeted = await greet(channel, name, { timeoutMs: options.timeoutMs ?? 5000, maxFrameBytes });
  // The reader splits frames itself from here; the start of one after the greeting is handed over.
  const read: ReadOptions = {
    maxFrameBytes,
    pending: greeted.frames.pending(),
    decode: (body) => readSmallMap(body, 0, body.length) ?? decodeFrameBody(body),
  };
  return new Client(name, channel, greeted.hello, read, greeted.rest);
}
