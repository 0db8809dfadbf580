/**
 * The msgpack client used by the CLI and by library users.
 *
 * @module
 */
import type { Chunk } from "./command.ts";
import { decodeFrameBody, encodeFrame, MSGPACK_PREFACE } from "./dialects/msgpack.ts";
import { FRAME_HEADER_BYTES, FrameDecoder, ownsBuffer } from "./dialects/_frame_decoder.ts";
import { SockdError, Status } from "./errors.ts";
import { ownUid, socketOwnerProblem } from "./socket_trust.ts";

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

/** What the server said about itself on connect. */
export interface ServerHello {
  protocol: number;
  server: string;
  version: string;
  maxFrame: number;
  /** The socket's access level (`read`, `operate`, `admin`); servers before it was added do not say. */
  access?: string;
}

/** Chunks pending in one call before the client stops reading the connection. */
const PENDING_CHUNKS = 256;
const INPUT_PIECE = 64 * 1024;
/** Bytes read from the socket at a time (one buffer, reused: decoded values are copies). */
const READ_BYTES = 64 * 1024;
/**
 * A frame missing at least this much is read straight into its own buffer
 * (the rest of a streamed chunk): no copy, and its bytes are handed out as they are.
 */
const DIRECT_READ_BYTES = 16 * 1024;
/** How long a failed write waits for the read loop to report why the server closed. */
const WRITE_FAILURE_GRACE_MS = 1000;
const encoder = new TextEncoder();

/**
 * One call in progress: iterate it for its chunks, await `result` for its
 * result. A server error rejects `result` (and ends iteration by throwing)
 * with a {@linkcode SockdError} whose `remote` is true; a dead connection
 * rejects with CONN_ERROR (103) and `remote` false.
 */
export class Call implements AsyncIterable<Chunk> {
  /** The call's id on its connection. */
  readonly id: number;
  /** Resolves with the command's result (undefined when it returns none). */
  readonly result: Promise<unknown>;
  /** Chunks not yet read (made on the first: a unary call has none). */
  #queue: Chunk[] | undefined;
  #wake: (() => void) | undefined;
  #room: (() => void) | undefined;
  #ended = false;
  #error: SockdError | undefined;
  #resolve!: (v: unknown) => void;
  #reject!: (e: SockdError) => void;
  #cancel: () => void;

  /** @internal */
  constructor(id: number, cancel: () => void) {
    this.id = id;
    this.#cancel = cancel;
    this.result = new Promise((res, rej) => {
      this.#resolve = res;
      this.#reject = rej;
    });
    // Iterating callers learn of errors there; an unawaited result must not crash the program.
    this.result.catch(() => {});
  }

  /** Asks the server to cancel the call. */
  cancel(): void {
    if (!this.#ended) this.#cancel();
  }

  /** Whether the call has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** @internal a data chunk arrived; resolves when there is room for more. */
  _data(chunk: Chunk): Promise<void> | undefined {
    const queue = this.#queue ??= [];
    queue.push(chunk);
    this.#notify();
    if (queue.length < PENDING_CHUNKS) return undefined;
    return new Promise((r) => this.#room = r);
  }

  /** @internal the call ended. */
  _end(error: SockdError | undefined, result?: unknown) {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    if (error) this.#reject(error);
    else this.#resolve(result);
    this.#notify();
    this.#freeRoom();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Chunk, void, undefined> {
    while (true) {
      const queue = this.#queue;
      if (queue && queue.length > 0) {
        const chunk = queue.shift()!;
        if (queue.length < PENDING_CHUNKS / 2) this.#freeRoom();
        yield chunk;
        continue;
      }
      if (this.#ended) {
        if (this.#error) throw this.#error;
        return;
      }
      await new Promise<void>((r) => this.#wake = r);
    }
  }

  #notify() {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  #freeRoom() {
    const r = this.#room;
    this.#room = undefined;
    r?.();
  }
}

/**
 * A connection to a sockd server, speaking the framed msgpack dialect.
 * Several calls may run at once.
 */
export class Client {
  /** The socket path. */
  readonly path: string;
  /** The server's hello. */
  readonly server: ServerHello;
  /** Resolves when the connection has closed, for whatever reason. */
  readonly closed: Promise<void>;
  #conn: Deno.UnixConn;
  #calls = new Map<number, Call>();
  #pings = new Map<number, () => void>();
  #nextId = 1;
  #dead: SockdError | undefined;
  /** Frames waiting for the next write; sent together in one syscall. */
  #queue: Uint8Array[] = [];
  /** Resolves once the queued frames are written (made when someone waits). */
  #queued: PromiseWithResolvers<void> | undefined;
  #writing = false;
  #writeFailed: SockdError | undefined;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;

  /** @internal use {@linkcode connect}. */
  constructor(
    path: string,
    conn: Deno.UnixConn,
    hello: ServerHello,
    frames: FrameDecoder,
    pending: Record<string, unknown>[],
  ) {
    this.path = path;
    this.server = hello;
    this.#conn = conn;
    this.closed = this.#readLoop(frames, pending);
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
    const call = new Call(id, () => this.#send({ type: "cancel", id }).catch(() => {}));
    if (this.#dead) {
      call._end(this.#dead);
      return call;
    }
    if (options.signal?.aborted) {
      call._end(new SockdError(Status.CANCELLED, "Cancelled before it started"));
      return call;
    }
    this.#calls.set(id, call);
    const message: Record<string, unknown> = { type: "call", id, command, args: [...args] };
    if (options.input !== undefined) message.input = true;
    if (options.timeoutMs !== undefined) message.timeout = options.timeoutMs;
    // A failed write ends the call through the connection's failure: nobody waits on this one.
    if (!this.#dead && !this.#writeFailed) this.#post(message);
    if (options.signal) {
      const onAbort = () => call.cancel();
      options.signal.addEventListener("abort", onAbort, { once: true });
      call.result.finally(() => options.signal!.removeEventListener("abort", onAbort)).catch(() => {});
    }
    if (options.input !== undefined) this.#pumpInput(call, options.input);
    return call;
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

  /**
   * Queues a frame; resolves once it is written. Frames queued while a write
   * is under way go out together in the next one.
   */
  #send(message: Record<string, unknown>): Promise<void> {
    if (this.#dead) return Promise.reject(this.#dead);
    if (this.#writeFailed) return Promise.reject(this.#writeFailed);
    // The waiter first: the frame may be written at once.
    const written = (this.#queued ??= Promise.withResolvers<void>()).promise;
    this.#post(message);
    return written;
  }

  /** Queues a frame; nobody waits for it. */
  #post(message: Record<string, unknown>) {
    this.#queue.push(encodeFrame(message));
    // The first frame goes out at once (the server starts on it while more are made); frames
    // queued while it is written go out together in the next write.
    if (!this.#writing) this.#flush();
  }

  async #flush() {
    if (this.#writing) return;
    this.#writing = true;
    while (this.#queue.length > 0) {
      const frames = this.#queue;
      const done = this.#queued;
      this.#queue = [];
      this.#queued = undefined;
      try {
        await writeAll(this.#conn, concat(frames));
        done?.resolve();
      } catch (err) {
        // Do not close the socket: the server may have closed after explaining
        // why (e.g. 108 for a frame over its limit), and the read loop must
        // still deliver that. If it does not end the connection promptly, the
        // failed write is the answer.
        const lost = new SockdError(Status.CONN_ERROR, `Connection to ${this.path} lost`, { cause: err });
        this.#writeFailed = lost;
        done?.reject(lost);
        // Frames queued during the failed write will not be sent either.
        (this.#queued as PromiseWithResolvers<void> | undefined)?.reject(lost);
        this.#queued = undefined;
        this.#queue = [];
        this.#graceTimer ??= setTimeout(() => this.#fail(lost), WRITE_FAILURE_GRACE_MS);
      }
    }
    this.#writing = false;
  }

  async #pumpInput(call: Call, input: NonNullable<CallOptions["input"]>) {
    const id = call.id;
    try {
      for await (const chunk of asChunks(input)) {
        if (call.ended) return;
        for (let off = 0; off < chunk.length; off += INPUT_PIECE) {
          await this.#send({ type: "input", id, chunk: chunk.subarray(off, off + INPUT_PIECE) });
        }
      }
      if (!call.ended) await this.#send({ type: "input-end", id });
    } catch {
      // The call or connection ended; its result says how.
    }
  }

  async #readLoop(frames: FrameDecoder, pending: Record<string, unknown>[]): Promise<void> {
    const buf = new Uint8Array(READ_BYTES);
    /** Bytes of the last large frame (prefix included): a stream's next frame is likely the same size. */
    let guess = 0;
    try {
      for (const msg of pending) await this.#onMessage(msg);
      while (!this.#dead) {
        // The rest of a large frame is read straight into its own buffer. While large frames
        // stream, each read goes to a fresh buffer the size of the last one, so that a frame
        // usually arrives whole in a buffer of its own: its bytes are handed out with no copy.
        const target = frames.readTarget(DIRECT_READ_BYTES);
        const into = target ?? (guess > 0 ? new Uint8Array(guess) : buf);
        const n = await this.#conn.read(into);
        if (n === null) break;
        const bodies = target ? frames.filled(n) : frames.push(into.subarray(0, n));
        guess = 0;
        for (const body of bodies) {
          const large = body.length >= DIRECT_READ_BYTES;
          if (large) guess = FRAME_HEADER_BYTES + body.length;
          // A frame in a buffer nobody writes again (a fresh one, or its own) is decoded
          // as views of it; one in the shared read buffer is copied.
          const keep = into !== buf && large || ownsBuffer(body);
          const wait = this.#onMessage(decodeFrameBody(body, keep));
          if (wait) await wait;
        }
      }
      this.#fail(
        this.#writeFailed ??
          new SockdError(Status.CONN_ERROR, `Server at ${this.path} closed the connection`),
      );
    } catch (err) {
      this.#fail(
        err instanceof SockdError
          ? new SockdError(err.status, `Bad data from server: ${err.message}`)
          : new SockdError(Status.CONN_ERROR, `Connection to ${this.path} lost`, { cause: err }),
      );
    } finally {
      try {
        this.#conn.close();
      } catch { /* already closed */ }
    }
  }

  /** Handles one message from the server; a promise when the reader should wait (a call's chunks pile up). */
  #onMessage(msg: Record<string, unknown>): Promise<void> | undefined {
    const id = msg.id;
    switch (msg.type) {
      case "data":
        return this.#calls.get(id as number)?._data(msg.chunk as Chunk);
      case "end": {
        const status = typeof msg.status === "number" ? msg.status : Status.BAD_REQUEST;
        const error = status === Status.OK
          ? undefined
          : new SockdError(status, String(msg.error ?? "Call failed"), {
            remote: true,
            details: msg.details as Record<string, unknown> | undefined,
          });
        if (id === null || id === undefined) {
          // A connection-level error: the server closes after it.
          this.#fail(error ?? new SockdError(Status.BAD_REQUEST, "Server ended the connection"));
          return undefined;
        }
        const call = this.#calls.get(id as number);
        this.#calls.delete(id as number);
        call?._end(error, msg.result);
        return undefined;
      }
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
    for (const call of this.#calls.values()) call._end(err);
    this.#calls.clear();
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
  const timeoutMs = options.timeoutMs ?? 5000;
  let conn: Deno.UnixConn;
  try {
    // The checked path, symlinks resolved: a link swapped after the check changes nothing.
    const target = options.checkOwner === false ? path : trustedPath(path, options.trustOwner);
    conn = await Deno.connect({ transport: "unix", path: target });
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
        {
          cause: err,
        },
      );
    }
    throw new SockdError(Status.CONN_ERROR, `Cannot connect to ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const frames = new FrameDecoder(options.maxFrameBytes ?? 16 * 1024 * 1024);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await conn.write(MSGPACK_PREFACE);
    const greeting = (async () => {
      const buf = new Uint8Array(4096);
      while (true) {
        const n = await conn.read(buf);
        if (n === null) {
          throw new SockdError(Status.CONN_ERROR, `Server at ${path} closed the connection before greeting`);
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
          throw new SockdError(Status.CONN_ERROR, `Server at ${path} did not greet${why}`);
        }
        return { hello: hello as unknown as ServerHello, rest: msgs };
      }
    })();
    const deadline = new Promise<never>((_, rej) => {
      timer = setTimeout(
        () => rej(new SockdError(Status.TIMEOUT, `Server at ${path} did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    const { hello, rest } = await Promise.race([greeting, deadline]);
    return new Client(path, conn, hello, frames, rest);
  } catch (err) {
    conn.close();
    if (err instanceof SockdError) throw err;
    throw new SockdError(Status.CONN_ERROR, `Connection to ${path} failed: ${(err as Error).message}`, {
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

async function* asChunks(input: NonNullable<CallOptions["input"]>): AsyncGenerator<Uint8Array> {
  if (typeof input === "string") {
    yield encoder.encode(input);
  } else if (input instanceof Uint8Array) {
    yield input;
  } else {
    for await (const chunk of input as AsyncIterable<Uint8Array>) yield chunk;
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
