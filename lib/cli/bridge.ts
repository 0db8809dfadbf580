/**
 * `sockd bridge [--socket PATH]`: joins standard input and output to a
 * sockd socket, so anything that runs a command elsewhere reaches it
 * (`ssh HOST sockd bridge`, as `varlinkctl bridge` and `socat - UNIX:…`).
 *
 * The socket's owner is checked exactly as `sockd call` checks it. Bytes go
 * both ways unchanged, in any dialect. End of standard input half-closes
 * the socket (the server still answers what is in flight); the bridge exits
 * when the server closes, or when standard output is closed (the far
 * client went away), which closes the socket and so cancels its calls.
 *
 * @module
 */
import { dialUnix } from "../_handshake.ts";
import { SockdError, Status } from "../errors.ts";
import { Exit, exitCodeFor } from "./exit_codes.ts";
import { errorLine } from "./render.ts";

/** Options of {@linkcode runBridge}. */
export interface BridgeOptions {
  socket: string;
  /** One more uid trusted to own the socket, besides this user and root. */
  trustOwner?: number;
}

/** The bridge's ends; standard input and output by default. */
export interface BridgeIO {
  stdin: ReadableStream<Uint8Array>;
  stdout: { write(p: Uint8Array): Promise<number> };
  stderr: (line: string) => void;
}

const READ_BYTES = 64 * 1024;

/** Runs the bridge until either side ends; resolves to the exit code. */
export async function runBridge(
  options: BridgeOptions,
  io: BridgeIO = {
    stdin: Deno.stdin.readable,
    stdout: Deno.stdout,
    stderr: (line) => void Deno.stderr.writeSync(new TextEncoder().encode(line)),
  },
): Promise<number> {
  let conn: Deno.UnixConn;
  try {
    conn = await dialUnix(options.socket, { trustOwner: options.trustOwner });
  } catch (err) {
    const e = err instanceof SockdError ? err : new SockdError(Status.CONN_ERROR, String(err));
    io.stderr(errorLine(e.message));
    return exitCodeFor(e.status);
  }
  const reader = io.stdin.getReader();
  let stdinDone = false;
  // Standard input to the socket; at its end, half-close so the server answers what is in flight.
  const up = (async () => {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      await writeAll(conn, value);
    }
    stdinDone = true;
    await conn.closeWrite();
  })();
  // The socket to standard output, until the server closes or nobody reads.
  const down = (async () => {
    const buf = new Uint8Array(READ_BYTES);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) return;
      await writeAll(io.stdout, buf.subarray(0, n));
    }
  })();
  let code: number = Exit.OK;
  try {
    await Promise.race([down, up.then(() => down)]);
  } catch (err) {
    // A closed standard output or socket ends the bridge; anything else is worth a line.
    if (!(err instanceof Deno.errors.BrokenPipe) && !(err instanceof Deno.errors.ConnectionReset)) {
      io.stderr(errorLine(`Bridge to ${options.socket} failed: ${(err as Error).message}`));
      code = Exit.CONNECTION;
    }
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
    if (!stdinDone) reader.cancel().catch(() => {});
    up.catch(() => {});
    down.catch(() => {});
  }
  return code;
}

async function writeAll(w: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await w.write(bytes.subarray(off));
}
