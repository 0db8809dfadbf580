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
      while (true) {
        const n = await conn.read(buf);
        if (n === null) {
          throw new SockdError(Status.CONN_ERROR, `Server at ${name} closed the connection before greeting`);
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
          throw new SockdError(Status.CONN_ERROR, `Server at ${name} did not greet${why}`);
        }
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
