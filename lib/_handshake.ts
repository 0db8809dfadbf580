/**
 * The client's first steps: reaching a UNIX socket it trusts
 * ({@linkcode dialUnix}, from _dial_unix.ts), and the msgpack greeting on
 * any channel ({@linkcode greet}). `sockd bridge` dials the same way the
 * client does.
 *
 * @module
 */
import type { ByteChannel } from "./byte_channel.ts";
import { decodeFrameBody, MSGPACK_PREFACE } from "./dialects/msgpack.ts";
import { FrameDecoder } from "./dialects/_frame_decoder.ts";
import { concatBytes } from "./_bytes.ts";
import { greetingStart, notAHello, undecodableHello } from "./_client_calls.ts";
import { SockdError, Status } from "./errors.ts";

export { type DialOptions, dialUnix } from "./_dial_unix.ts";

/** What the server said about itself on connect. */
export interface ServerHello {
  protocol: number;
  server: string;
  version: string;
  maxFrame: number;
  /** The socket's access level (`read`, `operate`, `admin`); servers before it was added do not say. */
  access?: string;
}

/** What {@linkcode greet} read: the hello, the decoder with any partial frame, and frames after it. */
export interface Greeting {
  hello: ServerHello;
  frames: FrameDecoder;
  rest: Record<string, unknown>[];
}

/**
 * Sends the msgpack preface on `conn` and waits up to `timeoutMs` for the
 * server's hello. Closes `conn` and rejects with a {@linkcode SockdError}
 * when the server refuses (its status, `remote` true), closes, or is silent
 * (TIMEOUT).
 */
export async function greet(
  conn: ByteChannel,
  name: string,
  options: { timeoutMs: number; maxFrameBytes: number },
): Promise<Greeting> {
  const { timeoutMs } = options;
  const frames = new FrameDecoder(options.maxFrameBytes);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await conn.write(MSGPACK_PREFACE);
    const greeting = (async () => {
      const buf = new Uint8Array(4096);
      /** The bytes read until they are known to begin a frame. */
      let head: Uint8Array | undefined = new Uint8Array(0);
      while (true) {
        const n = await conn.read(buf);
        if (n === null) {
          const why = head && greetingStart(head, name, true);
          if (why instanceof SockdError) throw why;
          throw new SockdError(Status.CONN_ERROR, `Server at ${name} closed the connection before greeting`);
        }
        let bytes: Uint8Array = buf.subarray(0, n);
        if (head) {
          // A refusal as a text line, a server of another kind, or a hello.
          head = concatBytes([head, bytes]);
          const start = greetingStart(head, name, false);
          if (start === "more") continue;
          if (start !== "frame") throw start;
          bytes = head;
          head = undefined;
        }
        let bodies: Uint8Array[];
        let hello: Record<string, unknown>;
        try {
          bodies = frames.push(bytes);
          if (bodies.length === 0) continue;
          hello = decodeFrameBody(bodies.shift()!);
        } catch (err) {
          throw undecodableHello(err, name);
        }
        const msgs = bodies.map((body) => decodeFrameBody(body));
        const refused = notAHello(hello, name);
        if (refused) throw refused;
        return { hello: hello as unknown as ServerHello, frames, rest: msgs };
      }
    })();
    const deadline = new Promise<never>((_, rej) => {
      timer = setTimeout(
        () => rej(new SockdError(Status.TIMEOUT, `Server at ${name} did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return await Promise.race([greeting, deadline]);
  } catch (err) {
    conn.close();
    if (err instanceof SockdError) throw err;
    throw new SockdError(Status.CONN_ERROR, `Connection to ${name} failed: ${(err as Error).message}`, {
      cause: err,
    });
  } finally {
    clearTimeout(timer);
  }
}
