/**
 * Attacks on the log (fixtures: tests/fixtures/attacks/logs/), with
 * `--log-format json`: the server stamps ts, level, msg, plugin and command,
 * a plugin's fields are nested under "fields" and override nothing; what a
 * plugin prints (console, Deno.stderr) is its output in a server line naming
 * it, never raw, and a newline cannot start a forged line; bursts of 10,000
 * lines are cut to the rate limit server-side, with a warning.
 */
import { assert, assertEquals } from "../../assert.ts";
import { waitFor } from "../../_helpers.ts";
import { type Attack, attack, rssMiB, step, within } from "./_kit.ts";

type Line = Record<string, unknown> & { fields?: Record<string, unknown> };

/** The server's log lines, and those that are not JSON objects (raw output). */
function logLines(a: Attack): { lines: Line[]; raw: string[] } {
  const lines: Line[] = [];
  const raw: string[] = [];
  for (const text of a.server.stderr().split("\n")) {
    if (text.trim() === "") continue;
    try {
      const v = JSON.parse(text);
      if (v && typeof v === "object" && !Array.isArray(v)) lines.push(v);
      else raw.push(text);
    } catch {
      raw.push(text);
    }
  }
  return { lines, raw };
}

const mentions = (line: Line, text: string) => JSON.stringify(line).includes(text);
const count = (a: Attack, marker: string) => logLines(a).lines.filter((l) => mentions(l, marker)).length;

const BURSTS = [
  // command, marker, file, whether a warning about dropped lines is required
  ["burst-log", "BURST-LOG", "burst_log.ts", true],
  ["burst-console", "BURST-CONSOLE", "burst_console.ts", true],
  ["burst-stderr", "BURST-STDERR", "burst_stderr.ts", true],
  // Posted log messages need not be accepted at all; if they are, they are limited too.
  ["burst-post", "BURST-POST", "burst_post.ts", false],
] as const;

/** What is wrong with how the server logged a burst of 10,000 lines from `file`. */
function burstProblems(a: Attack, marker: string, file: string, warns: boolean, counted: number): string[] {
  const problems: string[] = [];
  const { lines } = logLines(a);
  const n = count(a, marker);
  if (n !== counted) problems.push(`${n - counted} more lines trickled in afterwards: queued, not dropped`);
  if (n > 450) problems.push(`${n} lines logged for a burst of 10,000 (limit ~200/s)`);
  const stray = lines.filter((l) => mentions(l, marker) && !String(l.plugin ?? "").endsWith(file));
  if (stray.length) {
    problems.push(`${stray.length} lines not attributed to ${file}: ${JSON.stringify(stray[0])}`);
  }
  const warned = lines.some((l) => /drop/i.test(JSON.stringify(l)) && JSON.stringify(l).includes(file));
  if (warns && !warned) problems.push("no warning that lines were dropped");
  return problems.map((p) => `${file}: ${p}`);
}

Deno.test("attacks/logs: the log is the server's; plugins cannot forge, flood or bypass it", async (t) => {
  await using a = await attack("logs", { args: ["--log-format", "json"] });

  await step(t, a, "control: ctx.log without fields, and console, simply work", async () => {
    const marks = ["PLAIN-1", "PLAIN-2", "PLAIN-3", "PLAIN-4", "PLAIN-5"];
    assertEquals(await a.client.call("plain-log").result.catch((e) => e.message), "logged");
    await waitFor(() => marks.every((m) => count(a, m) > 0), 3000, "the lines").catch(() => {});
    assertEquals(marks.filter((m) => count(a, m) === 0), [], "every line logged");
  });

  await step(
    t,
    a,
    "fields named level, msg, ts, plugin, command are nested and override nothing",
    async () => {
      assertEquals(await a.call("forge-fields"), "logged");
      const forged = () => logLines(a).lines.filter((l) => mentions(l, "FORGE-FIELDS"));
      await waitFor(() => forged().length > 0, 3000, "the line").catch(() => {});
      const line = forged()[0];
      assert(line?.fields?.mark === "FORGE-FIELDS", `fields nested under "fields": ${JSON.stringify(line)}`);
      assertEquals([line.level, line.msg], ["info", "x"]);
      assert(String(line.plugin).endsWith("forge_fields.ts"), `plugin: ${line.plugin}`);
      assertEquals(line.command, "forge-fields");
      assert(Math.abs(Date.parse(String(line.ts)) - Date.now()) < 60_000, `the server's time: ${line.ts}`);
      const f = line.fields;
      assertEquals([f.level, f.msg, f.ts, f.plugin, f.command], [
        "error",
        "forged",
        "1970",
        "other.ts",
        "other",
      ]);
    },
  );

  await step(t, a, "console and Deno.stderr are the plugin's output in its lines; no injection", async () => {
    assertEquals(await a.call("console-out"), "printed");
    for (const mark of ["CONSOLE-LOG-MARK", "CONSOLE-ERR-MARK", "STDERR-MARK", "INJECTED-STDERR"]) {
      await waitFor(
        () => logLines(a).lines.some((l) => mentions(l, mark) && mentions(l, "console_out.ts")),
        3000,
        `${mark} in a line naming console_out.ts`,
      );
    }
    const injected = logLines(a).lines.filter((l) => String(l.msg).startsWith("INJECTED"));
    assertEquals(injected, [], "a printed or logged newline started no line of its own");
    assertEquals(logLines(a).raw.slice(0, 5), [], "nothing raw");
  });

  await step(
    t,
    a,
    "bursts of 10,000 lines (ctx.log, console, stderr, posted) are cut server-side",
    async () => {
      // All at once: each plugin has its own limit.
      const answers = await Promise.all(
        BURSTS.map(([command]) => a.client.call(command).result.catch((e) => e)),
      );
      // Logging a lot is not an attack to end a host for: only the posted messages may be refused.
      const ended = BURSTS.flatMap(([command], i) =>
        answers[i] === "burst" || command === "burst-post" ? [] : [`${command} answered ${answers[i]}`]
      );
      await new Promise((r) => setTimeout(r, 1200));
      const counted = BURSTS.map(([, marker]) => count(a, marker));
      // At 200 lines/s a queue would add ~60 lines in 300 ms.
      await new Promise((r) => setTimeout(r, 300));
      const problems = ended.concat(
        BURSTS.flatMap(([, marker, file, warns], i) => burstProblems(a, marker, file, warns, counted[i]!)),
      );
      assertEquals(problems, []);
    },
    10,
  );

  await step(t, a, "lines of 1 MiB (fields, console, stderr) are cut to a sane size", async () => {
    await a.client.call("log-bytes").result.catch((e) => e);
    const marks = ["LOG-BYTES", "CONSOLE-BYTES", "STDERR-BYTES"];
    await waitFor(() => marks.every((m) => a.server.stderr().includes(m)), 3000, "the lines").catch(() => {});
    await new Promise((r) => setTimeout(r, 300));
    const missing = marks.filter((m) => !a.server.stderr().includes(m));
    assertEquals(missing, [], "each kind of line is logged (cut, not dropped whole)");
    // 60 MiB written in one burst; what reaches the log is bounded by the rate limit times a sane line size.
    const bytes = a.server.stderr().split("\n").filter((l) => l.includes("log_bytes.ts"))
      .reduce((n, l) => n + l.length, 0);
    assert(bytes < 4 << 20, `${(bytes / 1048576).toFixed(1)} MiB logged for one burst of 60 lines of 1 MiB`);
  });

  await step(t, a, "128 MiB on stderr without a newline is not buffered by the server", async () => {
    const pid = a.server.process.pid;
    const before = rssMiB(pid);
    let peak = before;
    const call = a.client.call("no-newline").result.catch((e) => e);
    let done = false;
    call.finally(() => done = true);
    const end = performance.now() + 8000;
    while (!done && performance.now() < end) {
      peak = Math.max(peak, rssMiB(pid));
      await new Promise((r) => setTimeout(r, 50));
    }
    assertEquals(await within(10_000, "no-newline", call), "written", "the plugin wrote it all");
    peak = Math.max(peak, rssMiB(pid));
    assert(peak - before < 64, `the server grew ${(peak - before).toFixed(0)} MiB holding an endless line`);
  });

  await step(t, a, "every line the server wrote is a JSON log line with its ts, level and msg", () => {
    const { lines, raw } = logLines(a);
    assertEquals(raw.slice(0, 5), [], `${raw.length} raw lines`);
    const bad = lines.filter((l) =>
      typeof l.ts !== "string" || typeof l.level !== "string" || typeof l.msg !== "string"
    );
    assertEquals(bad.slice(0, 3), []);
  });
});

Deno.test("attacks/logs: in the text format a plugin cannot start a line or send escape sequences", async (t) => {
  await using a = await attack("logs");
  await step(t, a, "newlines and escape sequences from ctx.log, console and stderr are escaped", async () => {
    const answer = await a.client.call("inject-text").result.catch((e) => e);
    const marks = ["TEXT-LOG", "TEXT-ESC", "TEXT-CONSOLE", "TEXT-CONSOLE-ESC", "TEXT-STDERR"];
    await waitFor(() => marks.every((m) => a.server.stderr().includes(m)), 3000, "the marks").catch(() => {});
    const lines = a.server.stderr().split("\n");
    const forged = lines.filter((l) => l.startsWith("2026-01-01T00:00:00.000Z"));
    assertEquals(forged, [], "no line of the plugin's making");
    assert(!a.server.stderr().includes("\x1b"), "no escape character reaches the log");
    assertEquals(answer, "injected");
    const missing = ["TEXT-LOG", "TEXT-CONSOLE", "TEXT-STDERR"].filter((m) => !a.server.stderr().includes(m));
    assertEquals(missing, [], "the plugin's output is logged, escaped");
  });
});
