import { connect } from "../../lib/client.ts";
import type { Command, Context } from "../../lib/command.ts";
import { InlinePlugin } from "../../lib/runner/inline.ts";
import { serve } from "../../lib/server.ts";
import { assertEquals } from "../assert.ts";
import { tempDir, waitFor } from "../_helpers.ts";

Deno.test("inline runner: a streaming command cancelled at a yield runs its finally block", async () => {
  const events: string[] = [];
  const stream: Command = {
    name: "stream",
    summary: "Stream until stopped, then clean up",
    async *run() {
      try {
        for (let i = 0;; i++) yield i;
      } finally {
        events.push("cleaned up");
      }
    },
  };
  await using tmp = await tempDir();
  const server = await serve({ path: `${tmp.dir}/s.sock`, commands: [stream] });
  const client = await connect(server.path);
  try {
    const ctrl = new AbortController();
    const call = client.call("stream", [], { signal: ctrl.signal });
    let seen = 0;
    await (async () => {
      for await (const _ of call) if (++seen === 10) ctrl.abort();
    })().catch(() => {});
    await waitFor(() => events.length > 0, 2000, "the command's finally block");
    assertEquals(events, ["cleaned up"]);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("inline runner: a plugin version counts its calls until they end, however they end", async () => {
  const gate = Promise.withResolvers<string>();
  const plugin = new InlinePlugin([
    { name: "now", summary: "x", run: () => "now" },
    { name: "later", summary: "x", run: () => gate.promise },
    {
      name: "stream",
      summary: "x",
      async *run() {
        yield 1;
        yield 2;
      },
    },
  ]);
  const ctx = {} as Context;
  assertEquals(plugin.run("now", ctx), "now");
  assertEquals(plugin.calls, 0);
  const later = plugin.run("later", ctx) as Promise<string>;
  const stream = plugin.run("stream", ctx) as AsyncIterableIterator<number>;
  assertEquals(plugin.calls, 2);
  gate.resolve("later");
  assertEquals(await later, "later");
  await Promise.resolve();
  assertEquals(plugin.calls, 1);
  assertEquals((await stream.next()).value, 1);
  await stream.return!(undefined);
  assertEquals(plugin.calls, 0);
});
