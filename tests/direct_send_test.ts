/**
 * Answers sent with libc's `send(2)` through FFI (lib/_direct_send.ts)
 * before the handle's own write: `sockd serve` installs it, the handle
 * transport takes it whenever nothing the handle queued is waiting, the
 * handle writes what it did not take, and a peer gone away is an error, not
 * a SIGPIPE. The test permission set has no `ffi`: the real `send` is
 * watched in a process of its own (tests/fixtures/direct_send.ts); here,
 * installed stand-ins say when the transport asks and what it falls back to.
 */
import net from "node:net";
import { acceptQueue } from "../lib/_adopted_listener.ts";
import { HandleTransport } from "../lib/_handle_transport.ts";
import { directSendInstalled, type Send, useDirectSend } from "../lib/_direct_send.ts";
import { DENO, ROOT, startServer, tempDir } from "./_helpers.ts";
import { assert, assertEquals, assertMatch } from "./assert.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Linux's MSG_DONTWAIT | MSG_NOSIGNAL. */
const FLAGS = 0x40 | 0x4000;

/** An accepted handle transport and its client, with `send` installed while it lives. */
async function pair(send: Send | undefined) {
  const tmp = await tempDir();
  const path = `${tmp.dir}/t.sock`;
  const server = net.createServer();
  const queue = acceptQueue(server);
  await new Promise<void>((resolve) => server.listen({ path }, resolve));
  const client = await Deno.connect({ path, transport: "unix" });
  const transport = await withDeadline(queue.accept(), "accept");
  useDirectSend(send);
  return {
    transport,
    client,
    async [Symbol.asyncDispose]() {
      useDirectSend(undefined);
      transport.close();
      try {
        client.close();
      } catch { /* closed by the test */ }
      queue.close();
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

async function readExactly(client: Deno.Conn, n: number): Promise<string> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const got = await withDeadline(client.read(out.subarray(off)), "client read");
    if (got === null) throw new Error(`end of file after ${off} of ${n} bytes`);
    off += got;
  }
  return dec.decode(out);
}

/** A stand-in `send` that takes nothing (a full socket, or an error) and notes each call. */
function refusing() {
  const calls: { fd: number; text: string; len: bigint; flags: number }[] = [];
  const send: Send = (fd, buf, len, flags) => {
    calls.push({ fd, text: dec.decode(buf), len, flags });
    return -1;
  };
  return { calls, send };
}

Deno.test("direct send: each answer is offered to the installed send first, on the connection's descriptor", async () => {
  const s = refusing();
  await using p = await pair(s.send);
  assert(p.transport instanceof HandleTransport, "an accepted connection is not a HandleTransport");
  for (const text of ["pong\n", "second answer\n"]) {
    // The send took nothing: the handle wrote it all.
    assertEquals(
      await withDeadline(Promise.resolve(p.transport.write(enc.encode(text))), "write"),
      text.length,
    );
    assertEquals(await readExactly(p.client, text.length), text);
  }
  assertEquals(s.calls.map((c) => [c.text, c.len, c.flags]), [
    ["pong\n", 5n, FLAGS],
    ["second answer\n", 14n, FLAGS],
  ]);
  assert(Number.isInteger(s.calls[0]!.fd) && s.calls[0]!.fd > 2, `descriptor ${s.calls[0]!.fd}`);
  assertEquals(s.calls[1]!.fd, s.calls[0]!.fd);
});

Deno.test("direct send: nothing installed (no ffi permission, as in this process): the handle writes, as before", async () => {
  // reclaimFunctions without ffi installs nothing (tests/cli/idle_memory_test.ts calls it here too).
  const { reclaimFunctions } = await import("../lib/cli/_idle_memory.ts");
  await reclaimFunctions();
  assertEquals(directSendInstalled(), false);
  await using p = await pair(undefined);
  assertEquals(await withDeadline(Promise.resolve(p.transport.write(enc.encode("pong\n"))), "write"), 5);
  assertEquals(await readExactly(p.client, 5), "pong\n");
});

Deno.test("direct send: while the handle holds a queued write, later answers wait behind it, not beside it", async () => {
  const s = refusing();
  await using p = await pair(s.send);
  // The client reads nothing yet: 4 MiB fill the socket, and the handle queues the rest.
  const big = new Uint8Array(4 * 1024 * 1024).fill(0x61);
  const written = p.transport.write(big);
  const first = Promise.resolve(written);
  const tail = Promise.resolve(p.transport.write(enc.encode("TAIL")));
  // Should an assertion fail, the writes fail when the connection closes: not an uncaught error.
  first.catch(() => {}), tail.catch(() => {});
  assert(typeof written !== "number", "4 MiB were taken at once: nothing was queued");
  assertEquals(s.calls.length, 1, "an answer was offered to send while a write was queued");
  const got = await readExactly(p.client, big.length + 4);
  await withDeadline(first, "queued write");
  await withDeadline(tail, "tail write");
  assertEquals(got.slice(-5), "aTAIL");
  // Drained: the next answer is offered to send again.
  await withDeadline(Promise.resolve(p.transport.write(enc.encode("next"))), "write");
  assertEquals(s.calls.length, 2);
  assertEquals(await readExactly(p.client, 4), "next");
});

Deno.test("direct send: a connection detached for a successor is never sent on again", async () => {
  const s = refusing();
  await using p = await pair(s.send);
  (p.transport as HandleTransport).detach();
  try {
    await withDeadline(Promise.resolve(p.transport.write(enc.encode("late\n"))), "write");
  } catch { /* the handle now belongs to the socket being handed over */ }
  assertEquals(s.calls.length, 0, "a detached connection's descriptor was written directly");
});

Deno.test("direct send: with libc's real send, whole, short, queued and failed sends keep every byte in order", async () => {
  await using tmp = await tempDir();
  const out = await new Deno.Command(DENO, {
    args: [
      "run",
      "--allow-ffi",
      "--allow-read",
      `--allow-write=${tmp.dir}`,
      `--allow-net=unix:${tmp.dir}/t.sock`,
      `${ROOT}tests/fixtures/direct_send.ts`,
      tmp.dir,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  assert(out.success, `exit ${out.code}: ${dec.decode(out.stdout)}${dec.decode(out.stderr)}`);
  const got = JSON.parse(dec.decode(out.stdout));
  // As `sockd serve` opens libc: send installed, ffi dropped.
  assertEquals(got.installed, true);
  assert(got.ffi !== "granted", got.ffi);
  assertEquals(got.flags, [FLAGS]);
  // 50 answers of 8 bytes, each sent whole, each counted at once.
  assertEquals(got.whole, { calls: 50, took: 400, numbers: true, inOrder: true });
  // 20 answers of which send took 3 bytes each: the handle wrote the rest after them.
  assertEquals(got.short, { calls: 20, took: 60, inOrder: true });
  assertEquals(got.queued, {
    queued: true,
    whileQueued: { calls: 0, took: 0 },
    afterDrained: { calls: 1, took: 4 },
    inOrder: true,
  });
  // The peer gone: one send failed (-1), the handle's write reported the drop; the next client was served.
  assertEquals(got.gone.drop, true);
  assertMatch(got.gone.message, /EPIPE|ECONNRESET/);
  assertEquals(got.gone.next, "pong\n");
  assertEquals(got.gone.took, 5);
});

Deno.test("direct send (attack): clients that close before or while their answers are written do not stop sockd serve", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/s.sock`;
  await using server = await startServer(path);
  // Many answers asked for, none read: the first closes at once, the second after a few bytes of answer.
  const requests = enc.encode("help\n".repeat(2000));
  for (const readFirst of [0, 100]) {
    const c = await Deno.connect({ path, transport: "unix" });
    await c.write(requests);
    if (readFirst > 0) await readExactly(c, readFirst);
    c.close();
  }
  // Still serving (a SIGPIPE would have killed it: send is called with MSG_NOSIGNAL).
  for (let i = 0; i < 3; i++) {
    const c = await Deno.connect({ path, transport: "unix" });
    try {
      await c.write(enc.encode("ping\n"));
      const text = await readExactly(c, 5);
      assertEquals(text, "pong\n");
    } finally {
      c.close();
    }
  }
  assertEquals(await server.stop(), 0, server.stderr());
});
