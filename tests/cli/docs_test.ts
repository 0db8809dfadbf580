/** docs/CLIENT.md's exit code table must say what lib/cli/exit_codes.ts does. */
import { Exit, exitCodeFor } from "../../lib/cli/exit_codes.ts";
import { Status } from "../../lib/errors.ts";
import { assertEquals } from "../assert.ts";
import { ROOT } from "../_helpers.ts";

Deno.test("docs: CLIENT.md lists every exit code, and the status codes that lead to each", async () => {
  const doc = await Deno.readTextFile(`${ROOT}docs/CLIENT.md`);
  const section = doc.slice(doc.indexOf("### Exit codes"), doc.indexOf("## `sockd repl`"));
  const rows = section.split("\n").filter((l) => /^\| *\d+ *\|/.test(l)).map((line) => {
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim()); // "\|" is a pipe inside a cell
    return {
      code: Number(cells[1]),
      statuses: cells[3]!.split(",").map((s) => s.trim()).filter(Boolean).map(Number),
    };
  });
  assertEquals(rows.map((r) => r.code), [...new Set(Object.values(Exit))].sort((a, b) => a - b));
  for (const status of Object.values(Status)) {
    const row = rows.find((r) => r.statuses.includes(status));
    assertEquals(row?.code, exitCodeFor(status), `status ${status}`);
  }
});

Deno.test("docs: the README's exit code table lists the same codes, each with its status codes", async () => {
  const doc = await Deno.readTextFile(`${ROOT}README.md`);
  const section = doc.slice(doc.indexOf("## Exit codes of `sockd call`"), doc.indexOf("## Privileges"));
  const rows = section.split("\n").filter((l) => /^\| *\d+ *\|/.test(l)).map((line) => {
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    return {
      code: Number(cells[1]),
      statuses: [...cells[2]!.matchAll(/\((\d{3})\)/g)].map((m) => Number(m[1])),
    };
  });
  assertEquals(rows.map((r) => r.code), [...new Set(Object.values(Exit))].sort((a, b) => a - b));
  for (const status of Object.values(Status)) {
    if (status === Status.OK) continue;
    const row = rows.find((r) => r.statuses.includes(status));
    assertEquals(row?.code, exitCodeFor(status), `status ${status}`);
  }
});

Deno.test("docs: OPERATIONS.md names each built-in at the access level its code declares", async () => {
  const { BUILTINS, PLUGIN_BUILTINS, UPGRADE_BUILTIN } = await import("../../commands/mod.ts");
  const doc = await Deno.readTextFile(`${ROOT}docs/OPERATIONS.md`);
  const levels = doc.slice(doc.indexOf("**Access levels**"), doc.indexOf("A command declares the level"));
  const documented = new Map<string, string>();
  for (const line of levels.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    const level = /^`(read|operate|admin)`$/.exec(cells[1] ?? "")?.[1];
    if (!level) continue;
    for (const m of cells[3]!.matchAll(/`([a-z-]+)`/g)) documented.set(m[1]!, level);
  }
  const declared = new Map(
    [...BUILTINS, ...PLUGIN_BUILTINS, UPGRADE_BUILTIN].map((c) => [c.name, c.access ?? "operate"]),
  );
  assertEquals(new Map([...documented].sort()), new Map([...declared].sort()));
  // The observing table agrees too.
  const observing = doc.slice(doc.indexOf("## Observing it"));
  for (const line of observing.split("\n")) {
    const m = /^\| `([a-z-]+)[^`]*` +\| (read|operate|admin) /.exec(line);
    if (m) assertEquals(m[2], declared.get(m[1]!), `${m[1]} in the observing table`);
  }
});
