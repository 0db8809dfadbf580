/**
 * Clients written straight on `Deno.connect`: the raw baselines (no framing,
 * no codec), the line client the text and JSON-lines figures use, and idle
 * connections for the memory figure.
 *
 * @module
 */
import type { Step } from "./_measure.ts";

/** Size of a raw ping message: about a msgpack `call ping` frame (38 bytes) or its answer (39). */
export const RAW_MESSAGE_BYTES = 40;

/** Connects to a UNIX socket. */
export function connectUnix(path: string): Promise<Deno.UnixConn> {
  return Deno.connect({ transport: "unix", path });
}

/** Writes all of `bytes`. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** Fills `buf` from `conn`; throws if the connection ends first. */
export async function readFull(conn: Deno.Conn, buf: Uint8Array): Promise<void> {
  let got = 0;
  while (got < buf.length) {
    const n = await conn.read(buf.subarray(got));
    if (n === null) throw new Error(`Connection ended after ${got} of ${buf.length} bytes`);
    got += n;
  }
}

/** A connection driven by a {@linkcode Step}, closed by `close`. */
export interface Driver {
  step: Step;
  close(): void;
}

function closer(conn: Deno.Conn) {
  return () => {
    try {
      conn.close();
    } catch { /* already closed */ }
  };
}

/** Strict request/response on an echo server: write a message, wait for all of it back. */
export async function rawPingPong(path: string, size = RAW_MESSAGE_BYTES): Promise<Driver> {
  const conn = await connectUnix(path);
  const msg = new Uint8Array(size).fill(0x61);
  const back = new Uint8Array(size);
  return {
    step: async () => {
      await writeAll(conn, msg);
      await readFull(conn, back);
      return 1;
    },
    close: closer(conn),
  };
}

/**
 * Pipelined echo: keeps `inFlight` messages outstanding on one connection;
 * each read completes k messages, and one write sends k new ones.
 */
export async function rawPipelined(
  path: string,
  inFlight: number,
  size = RAW_MESSAGE_BYTES,
): Promise<Driver> {
  const conn = await connectUnix(path);
  const batch = new Uint8Array(size * inFlight).fill(0x61);
  const buf = new Uint8Array(64 * 1024);
  let partial = 0;
  let started = false;
  return {
    step: async () => {
      if (!started) {
        started = true;
        await writeAll(conn, batch);
      }
      const n = await conn.read(buf);
      if (n === null) throw new Error("Echo server closed the connection");
      partial += n;
      const done = Math.floor(partial / size);
      partial -= done * size;
      if (done > 0) await writeAll(conn, batch.subarray(0, done * size));
      return done;
    },
    close: closer(conn),
  };
}

/**
 * Asks the raw bulk server for `bytes` bytes and returns the throughput in
 * bytes/s, timed from the request to the end of the stream.
 */
export async function rawBulk(path: string, bytes: number, readBuffer = 64 * 1024): Promise<number> {
  const conn = await connectUnix(path);
  try {
    const head = new Uint8Array(8);
    new DataView(head.buffer).setBigUint64(0, BigInt(bytes));
    const buf = new Uint8Array(readBuffer);
    const t0 = performance.now();
    await writeAll(conn, head);
    let got = 0;
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += n;
    }
    const seconds = (performance.now() - t0) / 1000;
    if (got !== bytes) throw new Error(`Raw bulk: got ${got} of ${bytes} bytes`);
    return bytes / seconds;
  } finally {
    closer(conn)();
  }
}

/** A line-oriented client for the text and JSON-lines dialects. */
export class LineConn {
  #conn: Deno.UnixConn;
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #decoder = new TextDecoder();

  constructor(conn: Deno.UnixConn) {
    this.#conn = conn;
  }

  /** Writes `bytes`. */
  send(bytes: Uint8Array): Promise<void> {
    return writeAll(this.#conn, bytes);
  }

  /** The next line without its newline, or undefined at the end of the stream. */
  async readLine(): Promise<string | undefined> {
    while (true) {
      const nl = this.#buf.subarray(this.#start, this.#end).indexOf(0x0a);
      if (nl >= 0) {
        const line = this.#decoder.decode(this.#buf.subarray(this.#start, this.#start + nl));
        this.#start += nl + 1;
        return line;
      }
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      if (this.#end === this.#buf.length) throw new Error("Line longer than 64 KiB");
      const n = await this.#conn.read(this.#buf.subarray(this.#end));
      if (n === null) return undefined;
      this.#end += n;
    }
  }

  close(): void {
    closer(this.#conn)();
  }
}

/**
 * Opens `count` connections and runs `handshake` on each (one at a time,
 * each within `timeoutMs`), so that each is accepted and idle in the server
 * when this resolves. Running out of file descriptors on either side (this
 * process holds `count` of them, the server as many) fails with a message
 * naming the open-files limit.
 */
export async function openIdle(
  path: string,
  count: number,
  handshake: (conn: Deno.UnixConn) => Promise<void>,
  timeoutMs = 5000,
): Promise<Deno.UnixConn[]> {
  const conns: Deno.UnixConn[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    for (let i = 0; i < count; i++) {
      const conn = await connectUnix(path);
      conns.push(conn);
      await Promise.race([
        handshake(conn),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no handshake within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
  } catch (err) {
    clearTimeout(timer);
    for (const c of conns) closer(c)();
    const msg = (err as Error).message;
    const hint = /too many open files|handshake/i.test(msg)
      ? " (the open-files limit, ulimit -n, of this process or the server's may be too low)"
      : "";
    throw new Error(`Opened ${conns.length} of ${count} idle connections: ${msg}${hint}`, { cause: err });
  }
  return conns;
}

/** Closes every connection of `conns`. */
export function closeAll(conns: readonly Deno.Conn[]): void {
  for (const c of conns) closer(c)();
}
