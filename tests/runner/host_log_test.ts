/**
 * A plugin's log lines as the server writes them: stamped by the server,
 * the plugin's fields kept apart, one line per line, and rate-limited where
 * the plugin cannot reach the limit.
 */
import { stderrLogger } from "../../lib/cli/logger.ts";
import { HostLog, oneLine } from "../../lib/runner/host_log.ts";
import { assert, assertEquals } from "../assert.ts";
import { waitFor } from "../_helpers.ts";

function jsonLines() {
  const lines: Record<string, unknown>[] = [];
  const logger = stderrLogger("debug", "json", (l) => lines.push(JSON.parse(l)));
  return { lines, logger };
}

Deno.test("host log: a plugin's fields cannot pass for the server's level, message, time or plugin", () => {
  const { lines, logger } = jsonLines();
  const log = new HostLog("evil.ts", logger, 200);
  log.line("info", "x", { level: "error", msg: "forged", ts: "1970-01-01T00:00:00Z", plugin: "other.ts" });
  const [line] = lines;
  assertEquals(line!.level, "info");
  assertEquals(line!.msg, "x");
  assertEquals(line!.plugin, "evil.ts");
  assert(String(line!.ts).startsWith(String(new Date().getUTCFullYear())), `ts ${line!.ts}`);
  assertEquals(line!.fields, {
    level: "error",
    msg: "forged",
    ts: "1970-01-01T00:00:00Z",
    plugin: "other.ts",
  });
});

Deno.test("host log: newlines and escapes in a plugin's text cannot forge a line of their own", () => {
  const written: string[] = [];
  const logger = stderrLogger("debug", "text", (l) => written.push(l));
  new HostLog("evil.ts", logger, 200).line("info", "ok\n2026-01-01T00:00:00.000Z ERROR forged\r\x1b[2K");
  new HostLog("evil.ts", logger, 200).output("out\u0007put");
  assertEquals(written.length, 2);
  for (const w of written) assertEquals(w.split("\n").length, 2, JSON.stringify(w));
  assert(written[0]!.includes("ok\\n2026-01-01T00:00:00.000Z ERROR forged\\r\\u001b[2K"), written[0]);
  assertEquals(oneLine("a\tb"), "a b");
  assertEquals(oneLine("x".repeat(5000)).length, 2049);
});

Deno.test("host log: a burst past the rate limit is cut, and the drop is reported once the second is over", async () => {
  const { lines, logger } = jsonLines();
  const log = new HostLog("chatty.ts", logger, 50);
  for (let i = 0; i < 10_000; i++) log.line("info", `line ${i}`);
  for (let i = 0; i < 100; i++) log.output(`stderr ${i}`);
  assertEquals(lines.length, 50, "the limit counts log calls and stderr lines together");
  await waitFor(() => lines.length === 51, 2000, "the report of what was dropped");
  assertEquals(lines[50]!.msg, "Plugin log lines dropped: over the rate limit");
  assertEquals(lines[50]!.dropped, 10_000 + 100 - 50);
  assertEquals(lines[50]!.plugin, "chatty.ts");
});

Deno.test("host log: the JSON logger's own keys come after the fields, so no field can replace them", () => {
  const { lines, logger } = jsonLines();
  logger.warn("real", { level: "debug", msg: "forged", ts: "1970", other: 1 });
  assertEquals(lines[0]!.level, "warn");
  assertEquals(lines[0]!.msg, "real");
  assert(lines[0]!.ts !== "1970");
  assertEquals(lines[0]!.other, 1);
});

Deno.test("host log: a plugin's fields are cut to 4 KiB, and say how large they were", () => {
  const { lines, logger } = jsonLines();
  new HostLog("big.ts", logger, 200).line("info", "x", { big: "b".repeat(1 << 20) });
  const fields = lines[0]!.fields as { truncated: string; bytes: number };
  assertEquals(fields.truncated.length, 4096);
  assertEquals(fields.bytes, (1 << 20) + 10);
});
