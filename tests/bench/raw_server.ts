/**
 * The raw baseline server of the benchmark suite: a minimal Deno UNIX-socket
 * server with no framing and no codec, run as its own process like
 * `sockd serve` is.
 *
 * - `--echo PATH`: writes back whatever each connection sends.
 * - `--bulk PATH`: each connection sends an 8-byte big-endian byte count,
 *   and the server writes that many bytes in 64 KiB writes, then closes.
 * - `--stats PATH`: for each read, answers the server's RSS in bytes as a
 *   decimal line (`Deno.memoryUsage().rss`), for the memory figure.
 *
 * Run by tests/bench/main.ts as
 * `deno run --allow-read=DIR --allow-write=DIR --allow-net=unix:E,unix:B tests/bench/raw_server.ts --echo E --bulk B`
 * (each socket path allowed by name).
 *
 * @module
 */

/** Read buffer of an echo connection; also what an idle connection holds. */
const ECHO_BUFFER = 16 * 1024;
/** Size of one write of the bulk sender (the sockd stream figure uses the same chunk size). */
export const BULK_CHUNK = 64 * 1024;

async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

async function echo(conn: Deno.Conn) {
  const buf = new Uint8Array(ECHO_BUFFER);
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      await writeAll(conn, buf.subarray(0, n));
    }
  } catch { /* the client went away */ }
  try {
    conn.close();
  } catch { /* closed */ }
}

const chunk = new Uint8Array(BULK_CHUNK).fill(0x78);

async function bulk(conn: Deno.Conn) {
  try {
    const head = new Uint8Array(8);
    let got = 0;
    while (got < 8) {
      const n = await conn.read(head.subarray(got));
      if (n === null) throw new Error("closed before the byte count");
      got += n;
    }
    let left = Number(new DataView(head.buffer).getBigUint64(0));
    while (left > 0) {
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      await writeAll(conn, piece);
      left -= piece.length;
    }
  } catch { /* the client went away */ }
  try {
    conn.close();
  } catch { /* closed */ }
}

const encoder = new TextEncoder();

async function stats(conn: Deno.Conn) {
  const buf = new Uint8Array(64);
  try {
    while (await conn.read(buf) !== null) {
      await writeAll(conn, encoder.encode(`${Deno.memoryUsage().rss}\n`));
    }
  } catch { /* the client went away */ }
  try {
    conn.close();
  } catch { /* closed */ }
}

async function serve(path: string, handle: (conn: Deno.Conn) => Promise<void>) {
  const listener = Deno.listen({ transport: "unix", path });
  for await (const conn of listener) handle(conn);
}

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

if (import.meta.main) {
  const echoPath = arg("--echo");
  const bulkPath = arg("--bulk");
  const statsPath = arg("--stats");
  if (!echoPath && !bulkPath) {
    console.error("usage: raw_server.ts [--echo PATH] [--bulk PATH] [--stats PATH]");
    Deno.exit(2);
  }
  const stop = () => Deno.exit(0);
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  await Promise.all([
    echoPath ? serve(echoPath, echo) : undefined,
    bulkPath ? serve(bulkPath, bulk) : undefined,
    statsPath ? serve(statsPath, stats) : undefined,
  ]);
}
