/** Zero-downtime restart: `sockd serve --takeover` against a running server, as real processes. */
import { connect } from "../../lib/client.ts";
import type { ServerStatus } from "../../lib/command.ts";
import { assert, assertEquals, assertIncludes } from "../assert.ts";
import { startServer, tempDir, waitFor } from "../_helpers.ts";

const COUNT_PLUGIN = `export default {
  name: "count", summary: "Count slowly", access: "read", flags: { to: { type: "number" } },
  async *run(ctx) { for (let i = 1; i <= Number(ctx.flags.to); i++) { await new Promise((r) => setTimeout(r, 20)); yield i; } return "done"; },
};`;

Deno.test("takeover: new connections reach the new server while the old one finishes its calls", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/a.sock`;
  const plugins = `${tmp.dir}/cmds`;
  await Deno.mkdir(plugins);
  await Deno.writeTextFile(`${plugins}/count.ts`, COUNT_PLUGIN);
  await using old = await startServer(path, ["--plugins", plugins]);
  const client = await connect(path);
  const oldPid = (await client.call("status").result as ServerStatus).pid;
  const stream = client.call("count", ["--to", "50"]);
  const chunks: unknown[] = [];
  const reading = (async () => {
    for await (const c of stream) chunks.push(c);
  })();
  reading.catch(() => {}); // awaited below; handled from now on
  await waitFor(() => chunks.length >= 3, 5000, "the stream to start");

  // The path answers all along (the old server), so wait for the new one to say it took over.
  await using next = await startServer(path, ["--plugins", plugins, "--takeover"]);
  await waitFor(() => next.stderr().includes("Took over the socket"), 10_000, "the takeover");
  const fresh = await connect(path);
  const newPid = (await fresh.call("status").result as ServerStatus).pid;
  assert(newPid !== oldPid, "a new connection reaches the new server");

  // The old server finishes the stream it was running, then exits on its own.
  await reading;
  assertEquals(await stream.result, "done");
  assertEquals(chunks, Array.from({ length: 50 }, (_, i) => i + 1));
  assertEquals(await old.stop("SIGCONT"), 0); // exits by itself; SIGCONT is a no-op nudge
  assertIncludes(old.stderr(), "Shutting down");
  assertIncludes(next.stderr(), "Took over: the old server is draining");

  // The socket file is the new server's, and it keeps serving.
  assert((await Deno.lstat(path)).isSocket);
  assertEquals(await fresh.call("ping").result, "pong");
  fresh.close();
  client.close();
});

Deno.test("takeover: with nobody on the path, --takeover simply starts", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/a.sock`;
  await using server = await startServer(path, ["--takeover"]);
  const c = await connect(path);
  assertEquals(await c.call("ping").result, "pong");
  c.close();
  assert(!server.stderr().includes("Took over"));
});

Deno.test("takeover: an old server that refuses to drain is left running; the new one serves and says so", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/a.sock`;
  // A read-only socket: the old server refuses the admin-only shutdown call.
  await using old = await startServer(path, ["--access", "read"]);
  const oldClient = await connect(path);
  const oldPid = (await oldClient.call("status").result as ServerStatus).pid;
  await using next = await startServer(path, ["--takeover"]);
  await waitFor(() => next.stderr().includes("old server refused to drain"), 10_000, "the refusal log line");
  assertIncludes(
    next.stderr(),
    'Took over the socket, but the old server refused to drain; stop it yourself error="Command \\"shutdown\\" needs access level admin; this socket allows read"',
  );
  const fresh = await connect(path);
  assert(
    (await fresh.call("status").result as ServerStatus).pid !== oldPid,
    "the path reaches the new server",
  );
  // The old server did not start shutting down: its connection is served as before.
  assertEquals(await oldClient.call("ping").result, "pong");
  assert(!old.stderr().includes("Shutting down"), old.stderr());
  fresh.close();
  oldClient.close();
});
