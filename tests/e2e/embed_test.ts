/**
 * Embedding sockd from a project outside the repository, the way the README
 * documents it: a temp directory with its own deno.json (the README's JSON,
 * with the path filled in), a program importing "sockd", type-checked and
 * run with the README's permissions, answering a call from the sockd CLI.
 */
import { isLive } from "../../lib/listener.ts";
import { assertEquals, assertIncludes } from "../assert.ts";
import { DENO, ROOT, runSockd, tempDir, waitFor } from "../_helpers.ts";

/** The README's deno.json for depending on sockd from a checkout, and the permission flags it names. */
async function documentedProject(): Promise<{ denoJson: string; flags: string[] }> {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const section = readme.slice(readme.indexOf("### Depending on sockd from your project"));
  const json = section.match(/```json\n([\s\S]*?)```/)?.[1];
  const run = section.match(/`deno run ((?:-\S+ )+)app\.ts`/)?.[1];
  if (!json || !run) {
    throw new Error("README.md: the section on depending on sockd lost its deno.json or flags");
  }
  assertIncludes(json, `"sockd": "/path/to/sockd/lib/mod.ts"`);
  return { denoJson: json.replace("/path/to/sockd/", ROOT), flags: run.trim().split(" ") };
}

const APP = `import { type Command, serve } from "sockd";

const answer: Command = {
  name: "answer",
  summary: "The answer, from a project outside sockd's repository",
  access: "read",
  args: [{ name: "who", optional: true }],
  run: (ctx) => ({ answer: 42, for: ctx.args[0] ?? "nobody" }),
};
const server = await serve({ path: Deno.args[0]!, commands: [answer], builtins: false });
Deno.addSignalListener("SIGTERM", () => server.close());
await server.finished;
`;

Deno.test("embed: a project outside the repo imports sockd as the README says, and answers a call", async () => {
  await using tmp = await tempDir();
  const project = `${tmp.dir}/myapp`;
  await Deno.mkdir(project);
  const { denoJson, flags } = await documentedProject();
  await Deno.writeTextFile(`${project}/deno.json`, denoJson);
  await Deno.writeTextFile(`${project}/app.ts`, APP);
  const dec = new TextDecoder();

  // Types resolve too (what an editor does): "sockd" and sockd's own imports.
  const check = await new Deno.Command(DENO, {
    args: ["check", "-q", "app.ts"],
    cwd: project,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  assertEquals(check.code, 0, dec.decode(check.stderr));

  const sock = `${tmp.dir}/app.sock`;
  const app = new Deno.Command(DENO, {
    args: ["run", "-q", ...flags, "app.ts", sock],
    cwd: project,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = app.output();
  try {
    await waitFor(() => isLive(sock).catch(() => false), 15_000, "the embedding app's socket");
    const r = await runSockd(["call", "--socket", sock, "--json", "answer", "ops"]);
    assertEquals([r.code, r.stderr], [0, ""]);
    assertEquals(JSON.parse(r.stdout), { status: 0, result: { answer: 42, for: "ops" } });
    const help = await runSockd(["call", "--socket", sock, "help"]);
    assertEquals(help.code, 2, "builtins: false leaves no help command");
  } finally {
    app.kill("SIGTERM");
  }
  const out = await output;
  assertEquals([out.code, dec.decode(out.stderr)], [0, ""]);
});
