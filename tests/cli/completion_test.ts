import {
  type Catalog,
  commonPrefix,
  complete,
  formatColumns,
  ServerCatalog,
} from "../../lib/cli/_completion.ts";
import { connect } from "../../lib/client.ts";
import type { CommandInfo } from "../../lib/command.ts";
import { serve } from "../../lib/server.ts";
import { assertEquals } from "../assert.ts";
import { tempDir } from "../_helpers.ts";

const catalog: Catalog = {
  names: () => Promise.resolve(["echo", "help", "ping", "tail", "tail-all", "version"]),
  info: (name) =>
    Promise.resolve(
      name === "tail"
        ? {
          name,
          flags: { lines: { type: "number" }, follow: { type: "boolean" } },
        } as unknown as CommandInfo
        : undefined,
    ),
};

Deno.test("completion: command names, flags of the command, and help's argument", async () => {
  const c = (line: string) => complete(line, line.length, catalog);
  assertEquals(await c("ta"), { start: 0, word: "ta", candidates: ["tail", "tail-all"] });
  assertEquals(await c("  v"), { start: 2, word: "v", candidates: ["version"] });
  assertEquals((await c("")).candidates.length, 6);
  assertEquals(await c("tail --f"), { start: 5, word: "--f", candidates: ["--follow"] });
  assertEquals((await c("tail -")).candidates, ["--follow", "--lines"]);
  assertEquals((await c("tail --lines 10 app")).candidates, []); // arguments: nothing to offer
  assertEquals((await c("nosuch --x")).candidates, []);
  assertEquals((await c("help --json p")).candidates, ["ping"]);
  assertEquals((await c("echo 'ta")).candidates, []); // quoted words are left alone
});

Deno.test("completion: the word under the cursor, not the end of the line", async () => {
  assertEquals(await complete("ta --lines 5", 2, catalog), {
    start: 0,
    word: "ta",
    candidates: ["tail", "tail-all"],
  });
});

Deno.test("completion: common prefix and columns", () => {
  assertEquals(commonPrefix(["tail", "tail-all"]), "tail");
  assertEquals(commonPrefix(["a", "b"]), "");
  assertEquals(commonPrefix([]), "");
  assertEquals(formatColumns(["aa", "bb", "cc", "dd", "ee"], 12), "aa  cc  ee\nbb  dd\n");
  assertEquals(formatColumns(["only"], 2), "only\n");
});

Deno.test("completion: ServerCatalog asks the server's help --json, caches, and forgets on invalidate", async () => {
  await using tmp = await tempDir();
  let calls = 0;
  const server = await serve({
    path: `${tmp.dir}/s.sock`,
    commands: [{
      name: "grep",
      summary: "Search",
      flags: { count: { type: "boolean" }, max: { type: "number" } },
      run: () => calls++,
    }],
  });
  const client = await connect(server.path);
  try {
    const cat = new ServerCatalog(() => client);
    const builtins = [
      "connections",
      "echo",
      "help",
      "log-level",
      "ping",
      "shutdown",
      "stats",
      "status",
      "version",
    ];
    assertEquals(await cat.names(), [...builtins, "grep"].sort());
    assertEquals(Object.keys((await cat.info("grep"))!.flags), ["count", "max"]);
    assertEquals(await cat.info("nosuch"), undefined);
    const line = "grep --";
    assertEquals((await complete(line, line.length, cat)).candidates, ["--count", "--max"]);
    cat.invalidate();
    assertEquals((await cat.names()).length, builtins.length + 1);
    assertEquals(calls, 0);
    // No connection: no candidates, no error.
    assertEquals(await new ServerCatalog(() => undefined).names(), []);
  } finally {
    client.close();
    await server.close();
  }
});
