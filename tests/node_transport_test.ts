/**
 * The transports of `sockd serve`'s connections (node:net listeners), over
 * real UNIX sockets: the handle transport (lib/_handle_transport.ts) that
 * accepted connections get, and the `net.Socket` one (lib/_node_transport.ts)
 * that connections handed over by a predecessor keep. Both must read in order,
 * survive a half-close, hold back a client that sends without reading, and
 * give up the bytes read but not used when the connection moves.
 */
import net from "node:net";
import { concatBytes } from "../lib/_bytes.ts";
import { acceptQueue, type MovableTransport } from "../lib/_adopted_listener.ts";
import { acceptHandles, HandleTransport, socketTransport } from "../lib/_handle_transport.ts";
import { NodeSocketTransport } from "../lib/_node_transport.ts";
import { isDrop } from "../lib/_conn_transport.ts";
import { tempDir, waitFor } from "./_helpers.ts";
import { assert, assertEquals, assertMatch } from "./assert.ts";

type Kind = "handle" | "socket";
const KINDS: Kind[] = ["handle", "socket"];

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A server-side transport of `kind` and the client connected to it. */
async function pair(kind: Kind) {
  const tmp = await tempDir();
  const path = `${tmp.dir}/t.sock`;
  const server = net.createServer({ allowHalfOpen: true });
  let next: Promise<MovableTransport>;
  let close: () => void;
  if (kind === "handle") {
    const queue = acceptQueue(server);
    next = new Promise((resolve) => server.once("listening", () => resolve(queue.accept())));
    close = () => queue.close();
  } else {
    next = new Promise((resolve) =>
      server.once("connection", (s: net.Socket) => resolve(new NodeSocketTransport(s)))
    );
    close = () => server.close();
  }
  await new Promise<void>((resolve) => server.listen({ path }, resolve));
  const client = await Deno.connect({ path, transport: "unix" });
  const transport = await withDeadline(next, "accept");
  return {
    transport,
    client,
    async [Symbol.asyncDispose]() {
      transport.close();
      try {
        client.close();
      } catch { /* closed by the test */ }
      close();
      await tmp[Symbol.asyncDispose]();
    },
  };
}

function withDeadline<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) =>
      timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)
    ),
  ]);
}

/** Reads from `t` with `size`-byte buffers until end-of-file. */
async function readAll(t: MovableTransport, size: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(size);
  while (true) {
    const n = await withDeadline(t.read(buf), "read");
    if (n === null) break;
    parts.push(buf.slice(0, n));
  }
  return concatBytes(parts);
}

Deno.test("node transport: sockd serve's connections are read through their handle, with no net.Socket made", async () => {
  // Deno's node:net polyfill keeps what the handle transport uses private; if an upgrade of Deno takes it
  // away, connections fall back to net.Socket silently. This says so.
  assert(acceptHandles(net.createServer()), "the node:net polyfill lacks what HandleTransport uses");
  await using p = await pair("handle");
  assert(p.transport instanceof HandleTransport, "an accepted connection is not a HandleTransport");
  // An answer the socket takes at once is counted at once: no promise to wait on. (The very first write
  // of a connection waits for the socket to be known writable.)
  const buf = new Uint8Array(8);
  for (const expectNumber of [false, true]) {
    const written = p.transport.write(enc.encode("pong\n"));
    if (expectNumber) assertEquals(written, 5);
    assertEquals(await withDeadline(Promise.resolve(written), "write"), 5);
    assertEquals(await withDeadline(p.client.read(buf), "client read"), 5);
  }
});

Deno.test("node transport: a socket received from a predecessor moves into a handle transport, with what it had read", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/t.sock`;
  const server = net.createServer({ allowHalfOpen: true });
  const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
  await new Promise<void>((resolve) => server.listen({ path }, resolve));
  const client = await Deno.connect({ path, transport: "unix" });
  try {
    const socket = await withDeadline(accepted, "accept");
    await client.write(enc.encode("abc"));
    await waitFor(() => socket.readableLength === 3, 5000, "the socket to buffer 3 bytes");
    const t = socketTransport(socket);
    assert(t instanceof HandleTransport, "the received socket was not taken over");
    assertEquals(t.pending, 3);
    await client.write(enc.encode("def"));
    await client.closeWrite();
    assertEquals(dec.decode(await readAll(t, 2)), "abcdef");
    // The descriptor outlived the socket it was taken from.
    await t.write(enc.encode("ok\n"));
    const buf = new Uint8Array(8);
    assertEquals(await withDeadline(client.read(buf), "client read"), 3);
    t.close();
  } finally {
    client.close();
    server.close();
  }
});

for (const kind of KINDS) {
  Deno.test(`node transport (${kind}): reads in order through small buffers; after end-of-file it still writes`, async () => {
    await using p = await pair(kind);
    const sent = "hello, world: more than one small buffer's worth\n".repeat(50);
    await p.client.write(enc.encode(sent));
    await p.client.closeWrite();
    assertEquals(dec.decode(await readAll(p.transport, 7)), sent);
    await p.transport.write(enc.encode("answer\n"));
    const buf = new Uint8Array(16);
    const n = await withDeadline(p.client.read(buf), "client read");
    assertEquals(dec.decode(buf.subarray(0, n ?? 0)), "answer\n");
  });

  Deno.test(`node transport (${kind}): each request read while a read waits is its bytes, short or long`, async () => {
    await using p = await pair(kind);
    const buf = new Uint8Array(256);
    // Long first, so a short read after it would show any stale byte of the shared read buffer.
    for (const [i, size] of [200, 1, 31, 32, 33, 5, 100, 2].entries()) {
      const want = Uint8Array.from({ length: size }, (_, j) => (i * 31 + j * 7 + 1) & 0xff);
      const read = p.transport.read(buf);
      await p.client.write(want);
      let got = 0;
      const parts: number[] = [];
      while (got < size) {
        const n = await withDeadline(got === 0 ? read : p.transport.read(buf), "read");
        assert(n !== null && n > 0);
        parts.push(...buf.subarray(0, n));
        got += n;
      }
      assertEquals(new Uint8Array(parts), want, `read ${i} of ${size} bytes`);
    }
  });

  Deno.test(`node transport (${kind}): a client that sends without being read fills no more than 320 KiB of the server`, async () => {
    await using p = await pair(kind);
    const total = 4 * 1024 * 1024;
    const data = new Uint8Array(total);
    for (let i = 0; i < total; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
    let sent = 0;
    const writing = (async () => {
      while (sent < total) sent += await p.client.write(data.subarray(sent, sent + 64 * 1024));
    })();
    await waitFor(() => p.transport.pending >= 256 * 1024, 5000, "the server to queue 256 KiB");
    // Nothing signals that reading stopped; a short wait shows the queue does not keep growing.
    await new Promise((r) => setTimeout(r, 200));
    assert(p.transport.pending <= 320 * 1024, `${p.transport.pending} bytes queued`);
    assert(sent < total, "the client sent everything although nothing was read");
    const got = new Uint8Array(total);
    let off = 0;
    const buf = new Uint8Array(100_000);
    while (off < total) {
      const n = await withDeadline(p.transport.read(buf), "read");
      assert(n !== null && n > 0, `read ended after ${off} bytes`);
      got.set(buf.subarray(0, n), off);
      off += n;
    }
    await writing;
    assertEquals(got, data);
  });

  Deno.test(`node transport (${kind}): detach hands out the bytes read but not used; the socket reads what came after`, async () => {
    await using p = await pair(kind);
    await p.client.write(enc.encode("abc"));
    await waitFor(() => p.transport.pending === 3, 5000, "the server to receive 3 bytes");
    assertEquals(dec.decode(p.transport.detach!()), "abc");
    await p.client.write(enc.encode("def"));
    const socket = p.transport.socket;
    const after = await withDeadline(
      new Promise<string>((resolve) => {
        socket.once("data", (c: Uint8Array) => resolve(dec.decode(c)));
        socket.resume();
      }),
      "data on the detached socket",
    );
    assertEquals(after, "def");
  });

  Deno.test(`node transport (${kind}): close ends a pending read with end-of-file; interrupt with 0 bytes`, async () => {
    await using p = await pair(kind);
    const buf = new Uint8Array(8);
    const interrupted = p.transport.read(buf);
    p.transport.interrupt!();
    assertEquals(await withDeadline(interrupted, "interrupted read"), 0);
    const pending = p.transport.read(buf);
    p.transport.close();
    assertEquals(await withDeadline(pending, "read after close"), null);
  });

  Deno.test(`node transport (${kind}): writing to a client that went away fails as a drop`, async () => {
    await using p = await pair(kind);
    p.client.close();
    const chunk = new Uint8Array(64 * 1024);
    let err: unknown;
    for (let i = 0; i < 100 && err === undefined; i++) {
      try {
        await withDeadline(Promise.resolve(p.transport.write(chunk)), "write");
      } catch (e) {
        err = e;
      }
    }
    assert(err !== undefined, "every write to a closed client succeeded");
    assert(isDrop(err), `not a drop: ${String(err)}`);
    assertMatch(String((err as Error).message), /EPIPE|ECONNRESET|closed/);
  });
}
