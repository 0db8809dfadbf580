/**
 * The lock-out of issue 11, tried as any local user would: a `sockd serve`
 * subprocess with an admin socket and a world-connectable read socket
 * (`mode=666`); 80 clients on the read socket, which takes 20. The admin
 * still gets `status` at once, and every refused read client reads 109 in
 * its own dialect (or as a text line when it says nothing), then a clean end.
 */
import { connect } from "../../lib/client.ts";
import { decode } from "../../lib/codec.ts";
import type { ServerStatus } from "../../lib/command.ts";
import { FrameDecoder } from "../../lib/dialects/_frame_decoder.ts";
import { MSGPACK_PREFACE } from "../../lib/dialects/msgpack.ts";
import { Status } from "../../lib/errors.ts";
import { assert, assertEquals, assertStatus, caught } from "../assert.ts";
import { readToEnd, runSockd, startServer, tempDir, waitFor } from "../_helpers.ts";

const CLIENTS = 80;
const MAX = 20;
const REFUSAL = `too many connections (limit ${MAX})`;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One refused client of a kind: what it read, normalised to [status, message]. */
async function refusedClient(path: string, kind: number): Promise<[number, string]> {
  if (kind === 0) {
    const err = await caught(connect(path)); // the msgpack client, as `sockd call` uses it
    return [err.status, err.message];
  }
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    if (kind === 1) {
      await conn.write(encoder.encode("status\n"));
      const line = /^error (\d+): (.*)\n$/.exec(decoder.decode(await readToEnd(conn)));
      return line ? [Number(line[1]), line[2]!] : [-1, "no error line"];
    }
    if (kind === 2) {
      await conn.write(encoder.encode('{"id":1,"command":"status"}\n'));
      const end = JSON.parse(decoder.decode(await readToEnd(conn)));
      return [end.status, end.error];
    }
    if (kind === 3) {
      await conn.write(MSGPACK_PREFACE);
      const [end] = new FrameDecoder(1 << 20).push(await readToEnd(conn)).map((f) => decode(f)) as {
        status: number;
        error: string;
      }[];
      return [end!.status, end!.error];
    }
    // Sends nothing: the text line, once the server stops waiting for its first bytes.
    const line = /^error (\d+): (.*)\n$/.exec(decoder.decode(await readToEnd(conn)));
    return line ? [Number(line[1]), line[2]!] : [-1, "no error line"];
  } finally {
    conn.close();
  }
}

Deno.test("e2e: 80 clients flood a read socket; admin status answers within 1 s and each refused client reads 109", async () => {
  await using tmp = await tempDir();
  const ro = `${tmp.dir}/ro.sock`;
  await using server = await startServer(`${tmp.dir}/admin.sock`, [
    "--listen",
    `${ro},access=read,mode=666,maxConnections=${MAX}`,
  ]);

  // Wait for the read socket's file (linked into place once it listens), without taking one of its slots.
  await waitFor(() => Deno.lstat(ro).then(() => true, () => false), 5000, "the read socket");
  // The first 20 take every slot of the read socket, each after one request (as in the report).
  const held: Deno.Conn[] = [];
  for (let i = 0; i < MAX; i++) {
    const conn = await Deno.connect({ transport: "unix", path: ro });
    await conn.write(encoder.encode("ping\n"));
    const buf = new Uint8Array(16);
    assertEquals(decoder.decode(buf.subarray(0, (await conn.read(buf))!)), "pong\n");
    held.push(conn);
  }
  try {
    // The other 60 arrive at once, speaking each dialect (or nothing), while the admin asks for status.
    const refused = Array.from({ length: CLIENTS - MAX }, (_, i) => refusedClient(ro, i % 5));
    const t0 = performance.now();
    const admin = await connect(server.path);
    const status = await admin.call("status").result as ServerStatus;
    const ms = performance.now() - t0;
    admin.close();
    assert(ms < 1000, `status on the admin socket took ${Math.round(ms)} ms`);
    const read = status.listeners.find((l) => l.path === ro)!;
    assertEquals([read.access, read.mode, read.limits.maxConnections], ["read", "0666", MAX]);

    const answers = await Promise.all(refused);
    assertEquals(answers, answers.map(() => [Status.BUSY, REFUSAL]));
    assertEquals(answers.length, 60);

    // The CLI too, as the operator in the report ran it.
    const cli = await runSockd(["call", "--json", "--socket", server.path, "status"]);
    assertEquals(cli.code, 0, cli.stderr);
    const cliRead = await runSockd(["call", "--socket", ro, "ping"]);
    assertEquals([cliRead.code, cliRead.stderr], [6, `sockd: ${REFUSAL}\n`]);
    assertStatus(await caught(connect(ro)), Status.BUSY);
  } finally {
    for (const c of held) c.close();
  }
  assertEquals(await server.stop(), 0);
});
