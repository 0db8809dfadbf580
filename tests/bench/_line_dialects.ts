/**
 * Strict request/response `ping` clients written on the raw socket (as a
 * script in another language would): text and JSON lines, with the probe
 * that tells whether the server speaks the dialect, and a minimal msgpack one.
 *
 * @module
 */
import { decodeFrameBody, encodeFrame, MSGPACK_PREFACE } from "../../lib/dialects/msgpack.ts";
import type { Driver } from "./_raw_clients.ts";
import { connectUnix, LineConn, writeAll } from "./_raw_clients.ts";

/** How one line dialect asks for `ping` and reads the answer. */
export interface LineDialect {
  name: string;
  /** The request line (with its newline) for call number `id`. */
  request(id: number): Uint8Array;
  /** Reading the answer to call `id`: undefined while more lines follow, then whether it said pong. */
  ends(line: string, id: number): boolean | undefined;
}

const encoder = new TextEncoder();
const PING_LINE = encoder.encode("ping\n");

/** Text: `ping\n` answers `pong\n` (errors are `error NNN: ...` lines). */
export const TEXT_DIALECT: LineDialect = {
  name: "text",
  request: () => PING_LINE,
  ends: (line) => line === "pong" ? true : line.startsWith("error ") ? false : undefined,
};

/** JSON lines: `{"id":N,"command":"ping"}` answers `{"id":N,"status":0,"result":"pong"}`. */
export const JSONL_DIALECT: LineDialect = {
  name: "jsonl",
  request: (id) => encoder.encode(`{"id":${id},"command":"ping"}\n`),
  ends: (line, id) => {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      return false;
    }
    if (msg?.id !== id || !("status" in msg)) return msg?.id === null ? false : undefined;
    return msg.status === 0 && msg.result === "pong";
  },
};

/** A driver when the server speaks the dialect, or why not. */
export interface LineDialectProbe {
  driver?: Driver;
  na?: string;
}

const PROBE_TIMEOUT_MS = 5000;

/**
 * Connects and calls `ping` once in `dialect`. A server without the dialect
 * answers `error 102: unrecognised protocol` (or a wrong answer, or nothing
 * in time): the figure then prints as n/a.
 */
export async function lineDialectDriver(path: string, dialect: LineDialect): Promise<LineDialectProbe> {
  const line = new LineConn(await connectUnix(path));
  let id = 1;
  /** Calls ping; resolves with the answer's lines, the last first when it is not pong. */
  const call = async (): Promise<{ pong: boolean; lines: string[] }> => {
    await line.send(dialect.request(id));
    const lines: string[] = [];
    while (true) {
      const l = await line.readLine();
      if (l === undefined) return { pong: false, lines: [...lines, "(connection closed)"] };
      lines.push(l);
      const end = dialect.ends(l, id);
      if (end !== undefined) return { pong: end, lines };
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const first = await Promise.race([
      call(),
      new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), PROBE_TIMEOUT_MS)),
    ]);
    if (first === "timeout" || !first.pong) {
      line.close();
      const said = first === "timeout" ? "no answer" : JSON.stringify(first.lines.join("\n"));
      return {
        na: /unrecognised protocol/.test(said)
          ? `${dialect.name} dialect not available`
          : `${dialect.name} dialect answered ping with ${said}`,
      };
    }
  } catch (err) {
    line.close();
    return { na: `${dialect.name} dialect not available (${(err as Error).message})` };
  } finally {
    clearTimeout(timer);
  }
  return {
    driver: {
      step: async () => {
        id++;
        const { pong, lines } = await call();
        if (!pong) throw new Error(`${dialect.name} dialect answered ping with ${JSON.stringify(lines)}`);
        return 1;
      },
      close: () => line.close(),
    },
  };
}

/**
 * A minimal msgpack client for `ping` (no client library: encode the call,
 * read one length-prefixed frame, decode it), so the table can tell the
 * server's cost from the client library's.
 */
export async function minimalMsgpackDriver(path: string): Promise<Driver> {
  const conn = await connectUnix(path);
  const buf = new Uint8Array(64 * 1024);
  let have = 0;
  const nextFrame = async (): Promise<Record<string, unknown>> => {
    while (true) {
      if (have >= 4) {
        const len = new DataView(buf.buffer).getUint32(0);
        if (have >= 4 + len) {
          const msg = decodeFrameBody(buf.subarray(4, 4 + len));
          buf.copyWithin(0, 4 + len, have);
          have -= 4 + len;
          return msg;
        }
      }
      const n = await conn.read(buf.subarray(have));
      if (n === null) throw new Error("sockd closed the connection");
      have += n;
    }
  };
  await writeAll(conn, MSGPACK_PREFACE);
  const hello = await nextFrame();
  if (hello.type !== "hello") throw new Error(`sockd greeted with ${JSON.stringify(hello)}`);
  let id = 0;
  return {
    step: async () => {
      await writeAll(conn, encodeFrame({ type: "call", id: ++id, command: "ping", args: [] }));
      const end = await nextFrame();
      if (end.id !== id || end.result !== "pong") throw new Error(`sockd answered ${JSON.stringify(end)}`);
      return 1;
    },
    close: () => {
      try {
        conn.close();
      } catch { /* closed */ }
    },
  };
}
