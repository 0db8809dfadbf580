/**
 * The plugin host's pipes to the server (its stdin and stdout), for the
 * worker that speaks the protocol.
 *
 * @module
 */
import net from "node:net";

/**
 * The pipes to the server. Deno's `Deno.stdin`/`Deno.stdout` read and write
 * on a blocking thread (about 90 µs a round trip here); node:net's sockets
 * on the same descriptors are event-driven (about 35 µs). Deno 2.9 lets any
 * code adopt a descriptor this way; should a later Deno require a
 * permission for it, the host falls back to `Deno.stdin`/`Deno.stdout`.
 */
export interface Pipes {
  write: (bytes: Uint8Array) => Promise<void>;
  /** Calls `onData` with each chunk read, `onEnd` at EOF or on error. */
  read: (onData: (bytes: Uint8Array) => void, onEnd: (err?: Error) => void) => void;
}

function nodePipes(): Pipes {
  const input = new net.Socket({ fd: 0, readable: true, writable: false });
  const output = new net.Socket({ fd: 1, readable: false, writable: true });
  input.pause();
  return {
    write: (bytes) =>
      new Promise((resolve, reject) => output.write(bytes, (err) => err ? reject(err) : resolve())),
    read: (onData, onEnd) => {
      input.on("data", (d: Uint8Array) => onData(d));
      input.on("end", () => onEnd());
      input.on("error", (err: Error) => onEnd(err));
      input.resume();
    },
  };
}

function denoPipes(): Pipes {
  const stdin = Deno.stdin;
  const stdout = Deno.stdout;
  return {
    write: async (bytes) => {
      let off = 0;
      while (off < bytes.length) off += await stdout.write(bytes.subarray(off));
    },
    read: (onData, onEnd) => {
      void (async () => {
        const buf = new Uint8Array(64 * 1024);
        try {
          while (true) {
            const n = await stdin.read(buf);
            if (n === null) break;
            onData(buf.subarray(0, n));
          }
          onEnd();
        } catch (err) {
          onEnd(err as Error);
        }
      })();
    },
  };
}

/** The pipes: node:net's where Deno allows adopting the descriptors, else Deno's own. */
export function openPipes(): Pipes {
  try {
    return nodePipes();
  } catch {
    return denoPipes();
  }
}
