/**
 * `sockd serve` drops its network permission once its socket is bound
 * (docs/PLUGINS.md, "The network permission"). Observed from inside the
 * server's own isolate, through a trusted inline plugin (`"sandbox": "inline"`):
 * a sandboxed plugin is denied the network whatever the server holds, so
 * probing from one proves nothing about the server.
 */
import { connect } from "../../lib/client.ts";
import { assertEquals } from "../assert.ts";
import { startServer, tempDir, waitFor } from "../_helpers.ts";

Deno.test("e2e least privilege: once bound, sockd serve itself holds no network permission", async () => {
  await using tmp = await tempDir();
  // Something on loopback that would accept the connection if the server could still make one.
  const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  const accepting = (async () => {
    for await (const conn of tcp) {
      accepted++;
      conn.close();
    }
  })();
  const plugins = `${tmp.dir}/cmds`;
  await Deno.mkdir(plugins);
  await Deno.writeTextFile(
    `${plugins}/netcheck.js`,
    `export default { name: "netcheck", summary: "The server's own network permission", async run() {
      const { state } = await Deno.permissions.query({ name: "net" });
      let connect;
      try { (await Deno.connect({ hostname: "127.0.0.1", port: ${tcp.addr.port} })).close(); connect = "connected"; }
      catch (err) { connect = err.name; }
      return { state, connect };
    } };`,
  );
  await Deno.writeTextFile(
    `${plugins}/sockd.json`,
    JSON.stringify({ plugins: { "netcheck.js": { sandbox: "inline" } } }),
  );
  try {
    await using server = await startServer(`${tmp.dir}/a.sock`, [
      "--plugins",
      plugins,
      "--log-level",
      "debug",
    ]);
    await waitFor(
      () => server.stderr().includes("Dropped the network permission"),
      5000,
      "the drop log line",
    );
    const client = await connect(server.path);
    try {
      const got = await client.call("netcheck").result as { state: string; connect: string };
      assertEquals(got, { state: "prompt", connect: "NotCapable" });
    } finally {
      client.close();
    }
  } finally {
    tcp.close();
    await accepting.catch(() => {});
  }
  assertEquals(accepted, 0);
});
