/**
 * Load with faults against a real `sockd serve` subprocess: well-behaved
 * clients must lose no call while others send garbage, oversized frames,
 * stay half-open, read slowly, or vanish mid-stream.
 *
 * Bounded for CI; `deno task test:load` runs it longer
 * (SOCKD_LOAD_CLIENTS, SOCKD_LOAD_SECONDS).
 */
import { type Client, connect } from "../../lib/client.ts";
import { MSGPACK_PREFACE } from "../../lib/dialects/msgpack.ts";
import { encodeFrame } from "../../lib/dialects/msgpack.ts";
import { Status } from "../../lib/errors.ts";
import { assert, assertEquals, assertStatus, caught } from "../assert.ts";
import { startServer, tempDir } from "../_helpers.ts";
import { prng } from "../_prng.ts";

const CLIENTS = Number(Deno.env.get("SOCKD_LOAD_CLIENTS") ?? 200);
const SECONDS = Number(Deno.env.get("SOCKD_LOAD_SECONDS") ?? 6);

const STREAM_PLUGIN = `
export default {
  name: "stream",
  summary: "Stream N chunks of S bytes",
  access: "read",
  args: [{ name: "n" }, { name: "size" }],
  async *run(ctx) {
    const chunk = "x".repeat(Number(ctx.args[1]));
    for (let i = 0; i < Number(ctx.args[0]) && !ctx.signal.aborted; i++) yield chunk;
    return "done";
  },
};`;

/**
 * The server's memory as it reports it itself, after a full GC (the server
 * runs with --expose-gc for this test), in KiB. Reading /proc/PID needs
 * --allow-all in Deno, so the server is asked instead.
 */
const MEM_PLUGIN = `export default { name: "mem", summary: "Memory after GC, KiB", access: "read",
  async run() {
    // Array buffers are released a moment after the GC that frees them: collect twice.
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 200));
    globalThis.gc?.();
    const m = Deno.memoryUsage();
    return { rss: m.rss >> 10, heap: m.heapUsed >> 10, external: m.external >> 10 };
  } };`;

interface Mem {
  rss: number;
  heap: number;
  external: number;
}

async function memory(path: string): Promise<Mem> {
  const c = await connect(path);
  try {
    return await c.call("mem").result as Mem;
  } finally {
    c.close();
  }
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Reads once, giving up after `ms` (a fault client must never hang the test). */
async function readSome(conn: Deno.Conn, buf: Uint8Array, ms = 1000): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    conn.read(buf).catch(() => null),
    new Promise((r) => timer = setTimeout(r, ms)),
  ]);
  clearTimeout(timer);
}

async function rawConnect(path: string): Promise<Deno.UnixConn | undefined> {
  try {
    return await Deno.connect({ transport: "unix", path });
  } catch {
    return undefined;
  }
}

Deno.test({
  name: `reliability: ${CLIENTS} well-behaved clients lose no call while others misbehave`,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using tmp = await tempDir();
    const plugins = `${tmp.dir}/cmds`;
    await Deno.mkdir(plugins);
    await Deno.writeTextFile(`${plugins}/stream.ts`, STREAM_PLUGIN);
    await Deno.writeTextFile(`${plugins}/mem.ts`, MEM_PLUGIN);
    // The probe must run in the server's isolate to see its heap; the stream plugin stays sandboxed.
    await Deno.writeTextFile(
      `${plugins}/sockd.json`,
      JSON.stringify({ plugins: { "mem.ts": { sandbox: "inline" } } }),
    );
    const path = `${tmp.dir}/load.sock`;
    await using _server = await startServer(path, ["--plugins", plugins, "--log-level", "error"], {
      DENO_V8_FLAGS: "--expose-gc",
    });
    const before = await memory(path);
    const end = Date.now() + SECONDS * 1000;
    const random = prng(42).next;

    // Well-behaved clients: echo calls with checked answers, and short streams read to the end.
    let completed = 0;
    const lost: string[] = [];
    const latencies: number[] = [];
    const good = Array.from({ length: CLIENTS }, async (_, i) => {
      let client: Client;
      try {
        client = await connect(path, { timeoutMs: 10_000 });
      } catch (err) {
        lost.push(`client ${i} could not connect: ${(err as Error).message}`);
        return;
      }
      try {
        for (let n = 0; Date.now() < end; n++) {
          const word = `c${i}-${n}`;
          const t0 = performance.now();
          try {
            if (n % 10 === 9) {
              const call = client.call("stream", ["20", "100"]);
              let chunks = 0;
              for await (const _ of call) chunks++;
              if (chunks !== 20 || await call.result !== "done") {
                lost.push(`${word}: stream gave ${chunks} chunks`);
              }
            } else {
              const got = await client.call("echo", [word]).result;
              if (got !== word) lost.push(`${word}: got ${got}`);
            }
            latencies.push(performance.now() - t0);
            completed++;
          } catch (err) {
            lost.push(`${word}: ${(err as Error).message}`);
          }
        }
      } finally {
        client.close();
      }
    });

    // Misbehaving clients, until the end.
    const counts = { garbage: 0, oversized: 0, halfOpen: 0, slowReaders: 0, midStream: 0 };
    const halfOpen: Deno.UnixConn[] = [];
    const faults = [
      (async () => { // random bytes in any dialect, then gone
        while (Date.now() < end) {
          const conn = await rawConnect(path);
          if (!conn) continue;
          const junk = new Uint8Array(1 + Math.floor(random() * 4096)).map(() => Math.floor(random() * 256));
          await conn.write(junk).catch(() => {});
          if (random() < 0.5) await readSome(conn, new Uint8Array(4096), 200);
          conn.close();
          counts.garbage++;
        }
      })(),
      (async () => { // frames announcing 4 GiB
        while (Date.now() < end) {
          const conn = await rawConnect(path);
          if (!conn) continue;
          await conn.write(new Uint8Array([...MSGPACK_PREFACE, 0xff, 0xff, 0xff, 0xff, 1, 2, 3])).catch(
            () => {},
          );
          await readSome(conn, new Uint8Array(4096));
          conn.close();
          counts.oversized++;
          await new Promise((r) => setTimeout(r, 5));
        }
      })(),
      (async () => { // half-open: connect, send half a frame, never finish
        for (let i = 0; i < 50 && Date.now() < end; i++) {
          const conn = await rawConnect(path);
          if (!conn) continue;
          await conn.write(new Uint8Array([...MSGPACK_PREFACE, 0, 0, 1, 0, 0x84])).catch(() => {});
          halfOpen.push(conn);
          counts.halfOpen++;
        }
      })(),
      (async () => { // slow readers of a big stream: backpressure, not buffering
        const slow = await Promise.all(Array.from({ length: 10 }, () => rawConnect(path)));
        for (const [i, conn] of slow.entries()) {
          if (!conn) continue;
          await conn.write(
            new Uint8Array([
              ...MSGPACK_PREFACE,
              ...encodeFrame({ type: "call", id: i, command: "stream", args: ["100000", "1000"] }),
            ]),
          ).catch(() => {});
          counts.slowReaders++;
        }
        const buf = new Uint8Array(1024);
        while (Date.now() < end) {
          for (const conn of slow) if (conn) await readSome(conn, buf, 100);
          await new Promise((r) => setTimeout(r, 50));
        }
        for (const conn of slow) conn?.close();
      })(),
      (async () => { // disconnect mid-stream
        while (Date.now() < end) {
          const conn = await rawConnect(path);
          if (!conn) continue;
          await conn.write(
            new Uint8Array([
              ...MSGPACK_PREFACE,
              ...encodeFrame({ type: "call", id: 1, command: "stream", args: ["1000000", "100"] }),
            ]),
          ).catch(() => {});
          await readSome(conn, new Uint8Array(8192));
          conn.close();
          counts.midStream++;
          await new Promise((r) => setTimeout(r, 10));
        }
      })(),
    ];

    await Promise.all([...good, ...faults]);
    for (const c of halfOpen) c.close();
    // Let the server settle, then measure memory again.
    await new Promise((r) => setTimeout(r, 500));
    const after = await memory(path);
    const p99 = percentile(latencies, 99);
    console.log(
      `reliability: ${CLIENTS} clients x ${SECONDS}s: calls completed ${completed}, lost ${lost.length}, ` +
        `p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms; ` +
        `faults ${JSON.stringify(counts)}; server after GC: heap ${before.heap} -> ${after.heap} KiB, ` +
        `external ${before.external} -> ${after.external} KiB, RSS ${before.rss} -> ${after.rss} KiB`,
    );
    assertEquals(lost.slice(0, 5), []);
    assert(completed > CLIENTS, `only ${completed} calls completed`);
    assert(counts.garbage > 0 && counts.oversized > 0 && counts.midStream > 0 && counts.slowReaders > 0);
    // Nothing the load touched is retained once it is over. (RSS is reported, not asserted:
    // the allocator keeps freed pages of the peak, a plateau rather than growth.)
    assert(after.heap < before.heap + 16 * 1024, `server heap grew from ${before.heap} to ${after.heap} KiB`);
    assert(
      after.external < before.external + 16 * 1024,
      `server external memory grew to ${after.external} KiB`,
    );
    // The server still answers.
    const check = await connect(path);
    assertEquals(await check.call("ping").result, "pong");
    check.close();
  },
});

Deno.test("reliability: kill -9 of the server ends clients' calls with a clear error, and the next start cleans up", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/k.sock`;
  const plugins = `${tmp.dir}/cmds`;
  await Deno.mkdir(plugins);
  await Deno.writeTextFile(`${plugins}/stream.ts`, STREAM_PLUGIN);
  const first = await startServer(path, ["--plugins", plugins]);
  const client = await connect(path);
  const call = client.call("stream", ["100000000", "10"]);
  const reading = (async () => {
    for await (const _ of call) { /* keep reading */ }
  })();
  const failure = caught(reading); // handled from now on: it rejects while the kill is awaited
  await new Promise((r) => setTimeout(r, 100));
  const t0 = performance.now();
  await first.stop("SIGKILL");
  const err = await failure;
  assertStatus(err, Status.CONN_ERROR);
  assertEquals(err.remote, false);
  assert(performance.now() - t0 < 2000, "the client noticed the dead server promptly");
  await using second = await startServer(path);
  const again = await connect(path);
  assertEquals(await again.call("ping").result, "pong");
  again.close();
  assert(second.stderr().includes("Removed stale socket file"));
});
