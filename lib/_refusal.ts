/**
 * Refusing a connection politely: a listener at its connection limit answers
 * 109 (BUSY) before it closes, never with a bare reset, and in the dialect
 * the client speaks when its first bytes arrive soon enough (a msgpack client
 * sends its preface at once, so it gets a frame it can decode); otherwise as
 * a text line, which `nc` users read and msgpack clients also recognise.
 *
 * @module
 */
import { detectDialect, DIALECTS } from "./dialects/detect.ts";
import type { ServerHello } from "./dialects/dialect.ts";
import { Status } from "./errors.ts";
import type { Limits } from "./limits.ts";
import type { Transport } from "./transport.ts";

/** How long a refused connection is given to send its first bytes, in ms. */
export const REFUSAL_READ_MS = 250;
/** Refusals waiting for first bytes at once; past it, the text line goes out at once. */
export const MAX_PENDING_REFUSALS = 128;

const encoder = new TextEncoder();

/** Answers refused connections with 109; one per server. */
export class Refusals {
  #pending = 0;
  #limits: Limits;
  #hello: ServerHello;

  constructor(limits: Limits, hello: ServerHello) {
    this.#limits = limits;
    this.#hello = hello;
  }

  /** Connections waiting for their first bytes before being refused. */
  get pending(): number {
    return this.#pending;
  }

  /** Answers `conn` with 109 and `message`, then closes it; never throws. */
  async refuse(conn: Transport, message: string): Promise<void> {
    let first: Uint8Array | undefined;
    if (this.#pending < MAX_PENDING_REFUSALS) {
      this.#pending++;
      try {
        first = await firstBytes(conn, REFUSAL_READ_MS);
      } finally {
        this.#pending--;
      }
    }
    try {
      const bytes = this.#encode(first, message);
      for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    } catch { /* the client went away */ }
    try {
      conn.close();
    } catch { /* already closed */ }
  }

  #encode(first: Uint8Array | undefined, message: string): Uint8Array {
    const factory = first && first.length > 0 ? detectDialect(first[0]!, DIALECTS) : undefined;
    if (factory) {
      try {
        return factory.create({ limits: this.#limits, hello: this.#hello })
          .encode({ type: "end", id: null, status: Status.BUSY, error: message });
      } catch { /* fall back to text */ }
    }
    return encoder.encode(`error ${Status.BUSY}: ${message}\n`);
  }
}

/**
 * The first bytes the client sends within `ms`, or undefined. Reading them
 * also keeps the close clean: a UNIX socket closed with unread bytes makes
 * the peer's next read fail with ECONNRESET after the answer.
 */
async function firstBytes(conn: Transport, ms: number): Promise<Uint8Array | undefined> {
  const buf = new Uint8Array(1024);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const read = conn.read(buf).then((n) => n === null ? undefined : buf.subarray(0, n), () => undefined);
  const late = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms));
  try {
    return await Promise.race([read, late]);
  } finally {
    clearTimeout(timer);
  }
}
