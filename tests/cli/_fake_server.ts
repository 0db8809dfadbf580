/**
 * Fake sockd servers for hostile_server_test.ts: a UNIX listener in the test
 * process that reads what a client sends and answers with whatever a case
 * says, or relays to a real server and mutates its answer on the way.
 */
import { FrameDecoder } from "../../lib/dialects/_frame_decoder.ts";
import { MSGPACK_PREFACE } from "../../lib/dialects/msgpack.ts";

/** The client's side of one connection, as the fake server reads it. */
export class ClientBytes {
  readonly #conn: Deno.Conn;
  readonly #frames = new FrameDecoder(1 << 24);
  #preface = 0;
  /** Frames the client sent (after its preface). */
  frames = 0;
  ended = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Reads until the preface and `frames` frames arrived, the client closed, or `ms` passed. */
  async until(frames: number, ms = 2000): Promise<void> {
    const stop = performance.now() + ms;
    const buf = new Uint8Array(64 * 1024);
    while (!this.ended && (this.#preface < MSGPACK_PREFACE.length || this.frames < frames)) {
      const left = stop - performance.now();
      if (left <= 0) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        this.#conn.read(buf).catch(() => null),
        new Promise<"late">((r) => timer = setTimeout(() => r("late"), left)),
      ]).finally(() => clearTimeout(timer));
      if (n === "late") return;
      if (n === null) {
        this.ended = true;
        return;
      }
      let bytes = buf.subarray(0, n);
      const skip = Math.min(MSGPACK_PREFACE.length - this.#preface, bytes.length);
      this.#preface += skip;
      bytes = bytes.subarray(skip);
      if (bytes.length > 0) this.frames += this.#frames.push(bytes).length;
    }
  }

  /** Reads (and drops) until the client closes. */
  async drain(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    while (!this.ended) {
      if ((await this.#conn.read(buf).catch(() => null)) === null) this.ended = true;
    }
  }
}

/** Writes all of `bytes`; false when the client has gone. */
export async function send(conn: Deno.Conn, bytes: Uint8Array): Promise<boolean> {
  try {
    for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    return true;
  } catch {
    return false;
  }
}

/** A listener at `path` that hands each connection to `answer`, then closes it. */
export function fakeServer(
  path: string,
  answer: (conn: Deno.Conn, client: ClientBytes) => Promise<void>,
): AsyncDisposable {
  const listener = Deno.listen({ transport: "unix", path });
  const conns = new Set<Deno.Conn>();
  const served: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      served.push(
        answer(conn, new ClientBytes(conn)).catch(() => {}).finally(() => {
          conns.delete(conn);
          try {
            conn.close();
          } catch { /* closed */ }
        }),
      );
    }
  })().catch(() => {});
  return {
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      await accepting;
      await Promise.all(served);
    },
  };
}

/** How a relay changes the real server's answer: one bit flipped, or cut (closed) at a byte offset. */
export type Mutation = { flip: number; bit: number } | { cut: number } | undefined;

/**
 * Relays `conn` to the real server at `upstream`, applying `mutation` to what
 * the server sends; resolves with the bytes the server sent, as it sent them, up to where the relay stopped.
 */
export async function relay(conn: Deno.Conn, upstream: string, mutation: Mutation): Promise<Uint8Array> {
  const up = await Deno.connect({ transport: "unix", path: upstream });
  const forward = (async () => {
    const buf = new Uint8Array(64 * 1024);
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null || !await send(up, buf.subarray(0, n))) break;
    }
    // The client is gone: so is the server's side, which ends the loop below.
    closeQuietly(up);
  })();
  let off = 0;
  const seen: Uint8Array[] = [];
  try {
    const buf = new Uint8Array(64 * 1024);
    while (true) {
      const n = await up.read(buf).catch(() => null);
      if (n === null) break;
      const bytes = buf.subarray(0, n);
      seen.push(bytes.slice());
      if (mutation && "cut" in mutation && off + n >= mutation.cut) {
        await send(conn, bytes.subarray(0, mutation.cut - off));
        off = mutation.cut;
        break;
      }
      if (mutation && "flip" in mutation && mutation.flip >= off && mutation.flip < off + n) {
        bytes[mutation.flip - off]! ^= 1 << mutation.bit;
      }
      if (!await send(conn, bytes)) break;
      off += n;
    }
  } finally {
    closeQuietly(conn);
    closeQuietly(up);
    await forward;
  }
  const all = new Uint8Array(off);
  for (let at = 0, i = 0; at < off; i++) {
    all.set(seen[i]!.subarray(0, off - at), at);
    at += seen[i]!.length;
  }
  return all;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* closed */ }
}
