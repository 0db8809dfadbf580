/**
 * `sockd repl` in a real pseudo-terminal (tmux) against a real `sockd serve`,
 * and with piped stdin.
 */
import { assert, assertEquals, assertIncludes, assertMatch } from "../assert.ts";
import { ROOT, runSockd, SOCKD_ARGS, startServer, tempDir } from "../_helpers.ts";
import { Tmux } from "./_tmux.ts";

const PLUGINS = `${ROOT}tests/cli/fixtures/plugins`;

/** Starts the REPL on `socket` in tmux, with its history under `state`. */
async function startRepl(dir: string, socket: string, env: Record<string, string> = {}): Promise<Tmux> {
  const term = await Tmux.start(dir, [Deno.execPath(), ...SOCKD_ARGS, "repl", "-s", socket], {
    env: { XDG_STATE_HOME: `${dir}/state`, NO_COLOR: "1", ...env },
  });
  try {
    await term.waitForInput("sockd> ", 15_000);
  } catch (err) {
    await term[Symbol.asyncDispose]();
    throw err;
  }
  return term;
}

Deno.test("repl (tty): Tab completes command names and flags from the server, plugins included", async () => {
  await using tmp = await tempDir();
  await using server = await startServer(`${tmp.dir}/s.sock`, ["--plugins", PLUGINS]);
  await using term = await startRepl(tmp.dir, server.path);

  await term.type("vers");
  await term.keys("Tab");
  await term.waitForInput("sockd> version ");
  await term.keys("Enter");
  await term.waitFor(/^sockd 0\.\d+\.\d+ \(deno /m);

  // "tick" and "tick-endings" come from a plugin file: the common prefix, then the list.
  await term.type("ti");
  await term.keys("Tab");
  await term.waitForInput("sockd> tick");
  await term.keys("Tab");
  await term.waitFor(/^tick +tick-endings$/m);

  // Flags come from `help --json tick`.
  await term.type(" --ev");
  await term.keys("Tab");
  await term.waitForInput("sockd> tick --every ");
  await term.type("20 --count 3");
  await term.keys("Enter");
  await term.waitFor(/^tick 3$/m);

  // `help CMD` shows usage; its argument completes to command names.
  await term.type("help fol");
  await term.keys("Tab");
  await term.waitForInput("sockd> help follow ");
  await term.keys("Enter");
  await term.waitFor(/^usage: follow \[WORDS\.\.\.\]$/m);
  await term.waitFor(/^access: read, persistent$/m);
});

Deno.test("repl (tty): Ctrl-C cancels a streaming call (the server sees 106) and the connection is reused", async () => {
  await using tmp = await tempDir();
  await using server = await startServer(`${tmp.dir}/s.sock`, ["--plugins", PLUGINS]);
  await using term = await startRepl(tmp.dir, server.path);

  await term.type("conn");
  await term.keys("Enter");
  const before = (await term.waitFor(/^connection \d+$/m)).match(/^connection (\d+)$/m)![1];

  await term.type("tick --every 50");
  await term.keys("Enter");
  await term.waitFor(/^tick 5$/m); // streamed output appears as it arrives
  await term.keys("C-c");
  await term.waitFor(/^\(cancelled 106\) Cancelled by the client$/m);
  await term.waitForInput("sockd> ");

  await term.type("conn");
  await term.keys("Enter");
  const screen = await term.waitForCount(`connection ${before}`, 2);
  assertEquals([...screen.matchAll(/^connection (\d+)$/gm)].map((m) => m[1]), [before, before]);

  await term.type("tick-endings");
  await term.keys("Enter");
  await term.waitFor(/^106 Cancelled by the client$/m);
});

Deno.test("repl (tty): history survives a restart, in $XDG_STATE_HOME/sockd/history (0600)", async () => {
  await using tmp = await tempDir();
  await using server = await startServer(`${tmp.dir}/s.sock`);
  {
    await using term = await startRepl(tmp.dir, server.path);
    for (const line of ["echo first", "echo second", " echo secret"]) {
      await term.type(line);
      await term.keys("Enter");
    }
    await term.waitFor(/^secret$/m);
    await term.keys("C-d");
    assertEquals(await term.exitStatus(), 0);
  }
  const file = `${tmp.dir}/state/sockd/history`;
  // A line typed with a leading space is not recorded (as bash's ignorespace).
  assertEquals(await Deno.readTextFile(file), "echo first\necho second\n");
  assertEquals((await Deno.stat(file)).mode! & 0o777, 0o600);

  await using term = await startRepl(tmp.dir, server.path);
  await term.keys("Up");
  await term.waitForInput("sockd> echo second");
  await term.keys("Up");
  await term.waitForInput("sockd> echo first");
  await term.keys("Up"); // already the oldest: stays
  await term.waitForInput("sockd> echo first");
  await term.keys("Down", "Down"); // back to the (empty) line being typed
  await term.waitForInput("sockd> ");
  await term.keys("Up", "Enter");
  await term.waitFor(/^second$/m);
});

Deno.test("repl (tty): Ctrl-C clears the line; at an empty prompt it warns, and a second one exits", async (t) => {
  await using tmp = await tempDir();
  await using server = await startServer(`${tmp.dir}/s.sock`);

  await t.step("Ctrl-C, Ctrl-C", async () => {
    await using term = await startRepl(tmp.dir, server.path);
    await term.type("echo never sent");
    await term.keys("C-c");
    await term.waitFor(/^sockd> echo never sent\^C$/m);
    await term.waitForInput("sockd> ");
    await term.keys("C-c");
    await term.waitFor("(press Ctrl-C again or Ctrl-D to exit)");
    await term.keys("C-c");
    assertEquals(await term.exitStatus(), 0);
    assert(!(await term.screen()).includes("\nnever sent"));
  });

  await t.step("Ctrl-D at an empty prompt", async () => {
    await using term = await startRepl(tmp.dir, server.path);
    await term.type("ping");
    await term.keys("Enter");
    await term.waitFor(/^pong$/m);
    await term.keys("C-d");
    assertEquals(await term.exitStatus(), 0);
  });

  await t.step("line editing keys", async () => {
    await using term = await startRepl(tmp.dir, server.path);
    // "echo b" → Home, Right×5, type "a " → "echo a b"; End; Backspace; type "c" → "echo a c"
    await term.type("echo b");
    await term.keys("Home", "Right", "Right", "Right", "Right", "Right");
    await term.type("a ");
    await term.keys("End", "BSpace");
    await term.type("c");
    await term.waitForInput("sockd> echo a c");
    // Ctrl-W removes the last word; Ctrl-A + Delete removes the first letter.
    await term.keys("C-w", "C-a", "DC");
    await term.waitForInput("sockd> ");
    assertEquals((await term.screen()).trimEnd().split("\n").at(-1), "sockd> cho a");
    await term.keys("C-k"); // the cursor is at the start: kills the whole line
    await term.waitForInput("sockd> ");
    await term.type("echo done");
    await term.keys("Enter");
    await term.waitFor(/^done$/m);
  });
});

Deno.test("repl (tty): when the server is killed and restarted, the REPL says so and reconnects", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/s.sock`;
  const first = await startServer(path, ["--plugins", PLUGINS]);
  await using term = await startRepl(tmp.dir, path);
  await term.type("ping");
  await term.keys("Enter");
  await term.waitFor(/^pong$/m);

  await first.stop("SIGKILL");
  await term.waitFor(/^connection lost: server at .* closed the connection; reconnecting…$/m);
  await term.waitForInput("sockd (reconnecting)> ");

  await using second = await startServer(path, ["--plugins", PLUGINS]);
  await term.waitFor(new RegExp(`^reconnected to ${second.path}$`, "m"), 15_000);
  await term.waitForInput("sockd> ");
  await term.type("ping");
  await term.keys("Enter");
  await term.waitForCount("pong", 2);
});

Deno.test("repl (tty): a running persistent stream is re-issued after a reconnect", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/s.sock`;
  const first = await startServer(path, ["--plugins", PLUGINS]);
  await using term = await startRepl(tmp.dir, path);

  await term.type("follow");
  await term.keys("Enter");
  const before =
    (await term.waitFor(/^follow 2 on connection \d+$/m)).match(/^follow 2 on connection (\d+)$/m)![1];
  await first.stop("SIGKILL");
  await term.waitFor(/^connection lost: /m);

  await using _second = await startServer(path, ["--plugins", PLUGINS]);
  const screen = await term.waitFor(
    /^resuming follow \(persistent\)\nfollow 1 on connection \d+\nfollow 2 on/m,
    15_000,
  );
  assertMatch(screen, new RegExp(`^follow 2 on connection ${before}$`, "m"));
  await term.keys("C-c");
  await term.waitFor(/^\(cancelled 106\) Cancelled by the client$/m);
  await term.type("ping");
  await term.keys("Enter");
  await term.waitFor(/^pong$/m);
});

Deno.test("repl (tty): colour on a terminal, none with NO_COLOR", async () => {
  await using tmp = await tempDir();
  await using server = await startServer(`${tmp.dir}/s.sock`);
  {
    await using term = await startRepl(tmp.dir, server.path, { NO_COLOR: "" });
    await term.type("pnig");
    await term.keys("Enter");
    await term.waitFor(/did you mean "ping"/);
    const screen = await term.screen({ escapes: true });
    // The prompt is bold and the error red (tmux re-encodes SGR, e.g. bold as ESC[0;1m).
    // deno-lint-ignore no-control-regex
    assertMatch(screen, /\x1b\[(?:0;)?1m(?:\x1b\[\d+m)*sockd> /);
    // deno-lint-ignore no-control-regex
    assertMatch(screen, /\x1b\[31m\(error 101 NOT_FOUND\) Unknown command "pnig" \(did you mean "ping"\?\)/);
  }
  await using term = await startRepl(tmp.dir, server.path, { NO_COLOR: "1" });
  await term.type("pnig");
  await term.keys("Enter");
  await term.waitFor(/did you mean "ping"/);
  assert(!(await term.screen({ escapes: true })).includes("\x1b["), "no escape sequences with NO_COLOR");
});

Deno.test("repl (pipe): one command per line, output as plain text, exit code of the last failure", async (t) => {
  await using tmp = await tempDir();
  await using server = await startServer(`${tmp.dir}/s.sock`, ["--plugins", PLUGINS]);

  await t.step("every command succeeds: exit 0", async () => {
    const r = await runSockd(["repl", "-s", server.path], {
      // Words as the text dialect splits them (PROTOCOL.md): "\$" in double quotes is "$".
      stdin: `ping\n# a comment\n\necho 'a  b' c\r\necho "a\\$b \\"q\\"" \\'x\nversion`,
    });
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stdout, /^pong\na {2}b c\na\$b "q" 'x\nsockd \S+ \(deno \S+\)\n$/);
    assertEquals(r.stderr, "");
  });

  await t.step("streams, errors on stderr, and goes on after a failure", async () => {
    const r = await runSockd(["repl", "-s", server.path], {
      stdin: "tick --every 1 --count 2\npnig\necho 'open\nping\n",
    });
    assertEquals(r.stdout, "tick 1\ntick 2\npong\n");
    assertEquals(r.stderr.split("\n"), [
      'sockd: unknown command "pnig" (did you mean "ping"?)',
      "sockd: unterminated single quote (opened at column 6) in: echo 'open",
      "",
    ]);
    assertEquals(r.code, 2);
    assert(!r.stdout.includes("\x1b"));
  });

  await t.step("quit stops reading", async () => {
    const r = await runSockd(["repl", "-s", server.path], { stdin: "ping\nquit\nping\n" });
    assertEquals([r.code, r.stdout], [0, "pong\n"]);
  });

  await t.step("no server: exit 3 and one line", async () => {
    const r = await runSockd(["repl", "-s", `${tmp.dir}/none.sock`], { stdin: "ping\n" });
    assertEquals(r.code, 3);
    assertIncludes(r.stderr, "sockd: no server at ");
    assertEquals(r.stderr.trim().split("\n").length, 1);
  });
});

Deno.test("repl (tty): a persistent stream also resumes after a graceful restart (106, then close)", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/s.sock`;
  const first = await startServer(path, ["--plugins", PLUGINS]);
  await using term = await startRepl(tmp.dir, path);
  await term.type("follow");
  await term.keys("Enter");
  await term.waitFor(/^follow 2 on connection \d+$/m);
  // SIGTERM: the server stops accepting, drains (5 s), cancels the stream with 106, and closes.
  assertEquals(await first.stop("SIGTERM"), 0);
  await term.waitFor(/^connection lost: /m);
  assert(!(await term.screen()).includes("(error 106"), "the server's 106 is not shown as a failure");
  await using _second = await startServer(path, ["--plugins", PLUGINS]);
  await term.waitFor(/^resuming follow \(persistent\)\nfollow 1 on connection \d+$/m, 15_000);
  await term.keys("C-c");
  await term.waitFor(/^\(cancelled 106\) Cancelled by the client$/m);
});
