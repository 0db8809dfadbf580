/**
 * `sockd repl` as an operator uses it all day, in a real terminal (tmux):
 * argument hints, Ctrl-R, did you mean for flags, the server's name and
 * access level in the banner and prompt, and waiting for a server that is
 * not up yet.
 */
import { DENO, ROOT, SOCKD_ARGS, startServer, tempDir, waitFor } from "../_helpers.ts";
import { isLive } from "../../lib/listener.ts";
import { Tmux } from "./_tmux.ts";

const PLUGINS = `${ROOT}tests/cli/fixtures/plugins`;

function repl(dir: string, socket: string): Promise<Tmux> {
  return Tmux.start(dir, [Deno.execPath(), ...SOCKD_ARGS, "repl", "-s", socket], {
    env: { XDG_STATE_HOME: `${dir}/state`, NO_COLOR: "1" },
    width: 120,
  });
}

Deno.test("repl (tty): hints the arguments while typing, and a mistyped flag gets did you mean", async () => {
  await using tmp = await tempDir();
  await using server = await startServer(`${tmp.dir}/s.sock`, ["--plugins", PLUGINS]);
  await using term = await repl(tmp.dir, server.path);
  await term.waitForInput("sockd> ", 15_000);
  await term.type("tick ");
  await term.waitFor(/^sockd> tick \[--every N\] \[--count N\] \[WORDS\.\.\.\] *$/m);
  await term.keys("C-u");
  await term.type("tick --every 5 ");
  await term.waitFor(/^sockd> tick --every 5 \[--count N\] \[WORDS\.\.\.\] *$/m);
  await term.keys("C-u");
  await term.type("greet-nobody ");
  await term.waitForInput("sockd> greet-nobody ");
  await term.keys("C-u");
  await term.type("tick --evry 5");
  await term.keys("Enter");
  await term.waitFor(/\(error 110 BAD_ARGS\) Unknown option '--evry' \(did you mean --every\?\)/);
});

Deno.test("repl (tty): Ctrl-R finds an earlier command, Enter runs it", async () => {
  await using tmp = await tempDir();
  await using server = await startServer(`${tmp.dir}/s.sock`);
  await using term = await repl(tmp.dir, server.path);
  await term.waitForInput("sockd> ", 15_000);
  for (const line of ["echo first one", "echo second", "ping"]) {
    await term.type(line);
    await term.keys("Enter");
    await term.waitForInput("sockd> ");
  }
  await term.keys("C-r");
  await term.type("fir");
  await term.waitForInput("(reverse-i-search)'fir': echo first one");
  await term.keys("Enter");
  await term.waitForCount("first one\n", 2);
  await term.waitForInput("sockd> ");
  // Ctrl-G leaves the search with the line as it was.
  await term.type("ec");
  await term.keys("C-r");
  await term.type("sec");
  await term.waitForInput("(reverse-i-search)'sec': echo second");
  await term.keys("C-g");
  await term.waitForInput("sockd> ec");
});

Deno.test("repl (tty): the banner and prompt name the server and its access level", async () => {
  await using tmp = await tempDir();
  const ro = `${tmp.dir}/ro.sock`;
  await using server = await startServer(`${tmp.dir}/s.sock`, ["--listen", `${ro},access=read`]);
  await using term = await repl(tmp.dir, ro);
  await term.waitForInput("sockd(read)> ", 15_000);
  await term.waitFor(`connected to sockd 0.1.0 at ${ro} (access: read)`);
  void server;
});

Deno.test("repl (tty): an embedding program's name and version are shown, not sockd's", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/app.sock`;
  const daemon = new Deno.Command(DENO, {
    args: ["run", "-q", "-P=sockd", `${ROOT}examples/embed.ts`, path],
    cwd: ROOT,
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitFor(() => isLive(path).catch(() => false), 15_000, "the example daemon");
    await using term = await repl(tmp.dir, path);
    await term.waitForInput("embed-example> ", 15_000);
    await term.waitFor(`connected to embed-example 1.0.0 at ${path} (access: admin)`);
  } finally {
    daemon.kill("SIGINT");
    await daemon.status;
  }
});

Deno.test("repl (tty): started before the server, it waits and connects when the server appears", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/later.sock`;
  await using term = await repl(tmp.dir, path);
  await term.waitFor(`no server at ${path} yet; waiting for it (Ctrl-C gives up)…`, 15_000);
  await using _server = await startServer(path);
  await term.waitForInput("sockd> ", 15_000);
  await term.type("ping");
  await term.keys("Enter");
  await term.waitFor(/^pong$/m);
});
