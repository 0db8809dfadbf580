import { Link, type LinkEvent } from "../../lib/cli/_link.ts";
import { inputLines } from "../../lib/cli/_input_lines.ts";
import { serve } from "../../lib/server.ts";
import { assert, assertEquals } from "../assert.ts";
import { tempDir, waitFor } from "../_helpers.ts";

const fast = { firstDelayMs: 10, maxDelayMs: 40, giveUpAfterMs: 2000 };

Deno.test("link: reports a lost connection and reconnects with backoff once the server is back", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/s.sock`;
  let server = await serve({ path });
  const events: LinkEvent["type"][] = [];
  const link = new Link(path, { backoff: fast, onEvent: (e) => events.push(e.type) });
  try {
    const first = await link.get();
    assertEquals(await first.call("ping").result, "pong");
    await server.close({ drainMs: 0 });
    await waitFor(() => events.includes("retry"), 5000, "a failed attempt");
    assert(link.reconnecting);
    assertEquals(link.client, undefined);
    server = await serve({ path });
    // A caller waits for the reconnect rather than failing.
    const second = await link.get(AbortSignal.timeout(5000));
    assert(second !== first);
    assertEquals(await second.call("ping").result, "pong");
    assertEquals(events[0], "lost");
    assertEquals(events.at(-1), "reconnected");
  } finally {
    link.close();
    await server.close({ drainMs: 0 });
  }
});

Deno.test("link: gives up after giveUpAfterMs; the next get tries once and fails with 103", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/s.sock`;
  const server = await serve({ path });
  const events: LinkEvent[] = [];
  const link = new Link(path, {
    backoff: { firstDelayMs: 10, maxDelayMs: 20, giveUpAfterMs: 150 },
    onEvent: (e) => events.push(e),
  });
  try {
    await link.get();
    await server.close({ drainMs: 0 });
    await waitFor(() => events.some((e) => e.type === "gave-up"), 5000, "giving up");
    const gaveUp = events.find((e) => e.type === "gave-up") as Extract<LinkEvent, { type: "gave-up" }>;
    assert(gaveUp.attempts >= 3, `${gaveUp.attempts} attempts`);
    assert(gaveUp.elapsedMs < 1000);
    assertEquals(link.reconnecting, false);
    const err = await link.get().then(() => undefined, (e) => e);
    assertEquals(err?.status, 103);
  } finally {
    link.close();
  }
});

Deno.test("link: an aborted wait for a reconnect rejects with 106 at once", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/s.sock`;
  const server = await serve({ path });
  const link = new Link(path, { backoff: fast });
  try {
    await link.get();
    await server.close({ drainMs: 0 });
    await waitFor(() => link.reconnecting, 5000, "reconnecting");
    const ctrl = new AbortController();
    const pending = link.get(ctrl.signal).then(() => undefined, (e) => e);
    ctrl.abort();
    assertEquals((await pending)?.status, 106);
  } finally {
    link.close();
  }
});

Deno.test("input lines: split on \\n, \\r\\n trimmed, last line without newline, overlong lines skipped", async () => {
  const chunks = ["ping\r\nec", "ho hi\n", "x".repeat(30), "y\nlast"];
  const stream = ReadableStream.from(chunks.map((c) => new TextEncoder().encode(c)));
  const got = [];
  for await (const item of inputLines(stream, 20)) got.push(item);
  assertEquals(got, [{ line: "ping" }, { line: "echo hi" }, { tooLong: 20 }, { line: "last" }]);
});
