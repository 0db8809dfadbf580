/** Structured results for people: what `sockd call stats` and friends print on a terminal. */
import { renderHuman } from "../../lib/cli/human.ts";
import { assertEquals } from "../assert.ts";
import { ROOT, tempDir } from "../_helpers.ts";
import { Tmux } from "./_tmux.ts";
import { serve } from "../../lib/server.ts";

Deno.test("human output: a record is aligned key: value lines, nested records dotted, maps of records a table", () => {
  const stats = {
    uptimeSeconds: 45,
    connections: { open: 1, byDialect: { msgpack: 1 } },
    commands: {
      greet: { calls: 4, errors: { "110": 1 }, p50Ms: 0.848 },
      help: { calls: 12, errors: {}, p50Ms: 0.279 },
    },
  };
  assertEquals(
    renderHuman(stats),
    [
      "uptimeSeconds:                  45",
      "connections.open:               1",
      "connections.byDialect.msgpack:  1",
      "",
      "commands:",
      "  NAME   CALLS  ERRORS  P50MS",
      "  greet  4      110=1   0.848",
      "  help   12     -       0.279",
    ].join("\n"),
  );
});

Deno.test("human output: a list of records is a table; lists in cells are joined; wide characters align", () => {
  assertEquals(
    renderHuman([{ id: 1, dialect: "text", running: [] }, { id: 22, dialect: "中文", running: ["a", "b"] }]),
    ["ID  DIALECT  RUNNING", "1   text     -", "22  中文     a,b"].join("\n"),
  );
});

Deno.test("call (tty): stats prints tables and key: value lines on a terminal, JSON into a pipe", async () => {
  await using tmp = await tempDir();
  const server = await serve({ path: `${tmp.dir}/s.sock` });
  try {
    const sockd = `deno run -q -P=sockd ${ROOT}main.ts call -s ${server.path}`;
    const script = `${sockd} stats; echo "--- piped"; ${sockd} stats | cat; echo "--- done"`;
    await using term = await Tmux.start(tmp.dir, ["sh", "-c", script], { width: 200, height: 60 });
    const screen = await term.waitFor("--- done", 20_000);
    const [human, piped] = screen.split("--- piped\n");
    assertEquals(/^uptimeSeconds: +\d+$/m.test(human!), true, human);
    assertEquals(/^connections\.open: +1$/m.test(human!), true, human);
    assertEquals(piped!.trimStart().startsWith("{\n"), true, piped);
    assertEquals(typeof JSON.parse(piped!.slice(0, piped!.indexOf("--- done"))).uptimeSeconds, "number");
  } finally {
    await server.close({ drainMs: 0 });
  }
});
