import { defaultHistoryPath, History } from "../../lib/cli/_history.ts";
import { assertEquals } from "../assert.ts";
import { tempDir } from "../_helpers.ts";

Deno.test("history: $XDG_STATE_HOME/sockd/history, else $HOME/.local/state/sockd/history", () => {
  const saved = { xdg: Deno.env.get("XDG_STATE_HOME"), home: Deno.env.get("HOME") };
  try {
    Deno.env.set("XDG_STATE_HOME", "/state");
    Deno.env.set("HOME", "/home/ann");
    assertEquals(defaultHistoryPath(), "/state/sockd/history");
    Deno.env.set("XDG_STATE_HOME", "relative/ignored"); // the XDG spec requires an absolute path
    assertEquals(defaultHistoryPath(), "/home/ann/.local/state/sockd/history");
    Deno.env.delete("XDG_STATE_HOME");
    assertEquals(defaultHistoryPath(), "/home/ann/.local/state/sockd/history");
    Deno.env.delete("HOME");
    assertEquals(defaultHistoryPath(), undefined);
  } finally {
    for (const [name, value] of [["XDG_STATE_HOME", saved.xdg], ["HOME", saved.home]] as const) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  }
});

Deno.test("history: created 0600 in a 0700 directory; entries survive reopening", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/state/sockd/history`;
  const h = await History.open(path);
  assertEquals(h.entries, []);
  await h.add("ping");
  await h.add("echo a  b   ");
  assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
  assertEquals((await Deno.stat(`${tmp.dir}/state/sockd`)).mode! & 0o777, 0o700);
  assertEquals((await History.open(path)).entries, ["ping", "echo a  b"]);
});

Deno.test("history: blank lines, leading-space lines and immediate repeats are not recorded", async () => {
  await using tmp = await tempDir();
  const h = await History.open(`${tmp.dir}/history`);
  for (const line of ["ping", "ping", "  ", "", " secret", "ping ", "version", "ping"]) await h.add(line);
  assertEquals(h.entries, ["ping", "version", "ping"]);
  assertEquals(await Deno.readTextFile(`${tmp.dir}/history`), "ping\nversion\nping\n");
});

Deno.test("history: bounded to max entries, in memory and in the file", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/history`;
  await Deno.writeTextFile(path, Array.from({ length: 30 }, (_, i) => `cmd ${i}\n`).join(""));
  const h = await History.open(path, { max: 10 });
  assertEquals(h.entries.length, 10);
  assertEquals(h.entries[0], "cmd 20");
  assertEquals((await Deno.readTextFile(path)).split("\n").length, 11); // trimmed on open
  for (let i = 0; i < 25; i++) await h.add(`new ${i}`);
  assertEquals(h.entries, Array.from({ length: 10 }, (_, i) => `new ${i + 15}`));
  const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
  // The file is rewritten to max once it holds twice as many lines.
  assertEquals(lines.length <= 20, true, `${lines.length} lines`);
  assertEquals((await History.open(path, { max: 10 })).entries, h.entries);
});

Deno.test("history: in memory only when there is no path", async () => {
  const h = await History.open(undefined);
  await h.add("ping");
  assertEquals([h.path, h.entries], [undefined, ["ping"]]);
});
