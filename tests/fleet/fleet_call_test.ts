/**
 * `sockd call --host …` end to end: a real sshd on a loopback port, three
 * sockd servers behind it (aliases a, b, c in a generated ssh_config, each
 * with its own socket), the CLI run as a subprocess with the sockd
 * permission set, the remote `sockd` being this checkout from source.
 */
import { assert, assertEquals, assertIncludes } from "../assert.ts";
import { ROOT, runSockd, SOCKD_ARGS, spawnSockd, startServer, tempDir, waitFor } from "../_helpers.ts";
import { Tmux } from "../cli/_tmux.ts";
import { REMOTE_SOCKD, SSHD, startSshd } from "./_sshd.ts";

const PLUGINS = `${ROOT}examples/cmds`;

/** CI installs openssh-server (.ci/run): there a missing sshd is a failure, not a skipped test. */
const IN_CI = Deno.env.get("CI") === "true";
const HAVE_SSHD = await Deno.stat(SSHD).then((s) => s.isFile, () => false);

Deno.test({
  name: "fleet call: the same call on hosts a, b and c through a real sshd",
  ignore: !IN_CI && !HAVE_SSHD,
}, async (t) => {
  await using tmp = await tempDir();
  const sock = (name: string) => `${tmp.dir}/${name}.sock`;
  const servers = await Promise.all(["a", "b", "c"].map((n) => startServer(sock(n), ["--plugins", PLUGINS])));
  await using _servers = {
    [Symbol.asyncDispose]: async () => void await Promise.all(servers.map((s) => s.stop())),
  };
  await using sshd = await startSshd({
    aliases: { a: sock("a"), b: sock("b"), c: sock("c"), "far-away": sock("a"), down: null },
  });
  // `down` leads to a port nobody listens on (ssh takes the first value it finds for an option).
  await Deno.writeTextFile(sshd.config, "Host down\n  Port 1\n" + await Deno.readTextFile(sshd.config));
  const fleet = ["--ssh-config", sshd.config, "--remote-sockd", REMOTE_SOCKD];
  const call = (args: string[], stdin?: string) =>
    runSockd(["call", ...fleet, ...args], { stdin, timeoutMs: 30_000 });
  const lines = (text: string) => text.split("\n").filter((l) => l !== "").sort();

  await t.step("ping answers from all three, each line prefixed by its host, aligned", async () => {
    const r = await call(["-H", "a", "--host", "b", "-H", "c", "-H", "far-away", "ping"]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(lines(r.stdout), [
      "a        | pong",
      "b        | pong",
      "c        | pong",
      "far-away | pong",
    ]);
    assert(/^sockd: 4 hosts in [\d.]+ s: 4 ok, 0 failed, 0 unreachable$/m.test(r.stderr), r.stderr);
  });

  await t.step(
    "each host's output comes from its own server: --remote-socket overrides the default",
    async () => {
      // Tell the servers apart by the socket a `connections` listing reports.
      const r = await call(["-H", "a", "-H", "b", "--json", "connections"]);
      assertEquals(r.code, 0, r.stderr);
      const byHost = new Map(
        lines(r.stdout).map((l) => JSON.parse(l)).map((o) => [o.host, o.result[0].listener]),
      );
      assertEquals(byHost.get("a"), sock("a"));
      assertEquals(byHost.get("b"), sock("b"));
      const over = await call(["-H", "a", "--remote-socket", sock("c"), "--json", "connections"]);
      assertEquals(JSON.parse(over.stdout).result[0].listener, sock("c"), over.stderr);
    },
  );

  await t.step("--json: one object per host with a host field, and jq parses it", async () => {
    const r = await call(["--json", "-H", "a", "-H", "b", "-H", "c", "echo", "hi"]);
    assertEquals(r.code, 0, r.stderr);
    const jq = await new Deno.Command("jq", {
      args: ["-c", "-s", "sort_by(.host) | map([.host, .status, .result])"],
      stdin: "piped",
      stdout: "piped",
      signal: AbortSignal.timeout(10_000),
    }).spawn();
    const w = jq.stdin.getWriter();
    await w.write(new TextEncoder().encode(r.stdout));
    await w.close();
    const out = await jq.output();
    assert(out.success, "jq failed");
    assertEquals(new TextDecoder().decode(out.stdout).trim(), '[["a",0,"hi"],["b",0,"hi"],["c",0,"hi"]]');
  });

  await t.step("a remote status code fails that host and sets the exit code", async () => {
    const r = await call(["-H", "a", "-H", "b", "nosuch"]);
    assertEquals(r.code, 2); // 101, as for a local call
    assertIncludes(r.stderr, 'a | sockd: unknown command "nosuch"');
    assertIncludes(r.stderr, 'b | sockd: unknown command "nosuch"');
    assertIncludes(r.stderr, "2 hosts in");
    assertIncludes(r.stderr, ": 0 ok, 2 failed, 0 unreachable");
  });

  await t.step("ssh that cannot connect, and a missing remote sockd, are named as such", async () => {
    const r = await call(["--json", "-H", "a", "-H", "down", "ping"]);
    assertEquals(r.code, 3, r.stderr);
    const down = JSON.parse(lines(r.stdout).find((l) => l.includes('"down"'))!);
    assertEquals([down.status, down.reach, down.details.stage], [103, "unreachable", "ssh"]);
    assert(/^ssh could not connect to down: .*port 1: Connection refused/.test(down.error), down.error);
    assertIncludes(r.stderr, ": 1 ok, 0 failed, 1 unreachable");

    const missing = await runSockd(
      ["call", "--ssh-config", sshd.config, "--remote-sockd", "/nonexistent/sockd", "-H", "a", "ping"],
    );
    assertEquals(missing.code, 3);
    assert(
      /a \| sockd: \/nonexistent\/sockd not found on a: .*No such file/.test(missing.stderr),
      missing.stderr,
    );
  });

  await t.step("--host-timeout ends a host that takes too long", async () => {
    const r = await call(["-H", "a", "--host-timeout", "1500ms", "ticker", "--every", "100"]);
    assertEquals(r.code, 4, r.stderr); // TIMEOUT
    assertIncludes(r.stdout, "a | tick ");
    assertIncludes(r.stderr, "a | sockd: a did not finish within 1500 ms (--host-timeout)");
  });

  await t.step("a host that ssh would read as an option is refused before anything runs", async () => {
    const marker = `${tmp.dir}/pwned`;
    const r = await call([`--host=-oProxyCommand=touch ${marker}`, "ping"]);
    assertEquals(r.code, 2);
    assertIncludes(r.stderr, 'starts with "-" (ssh would read it as an option)');
    await Deno.writeTextFile(`${tmp.dir}/hosts`, `a\n-oProxyCommand=touch ${marker}\n`);
    const f = await call(["--hosts-file", `${tmp.dir}/hosts`, "ping"]);
    assertEquals(f.code, 2);
    assertIncludes(f.stderr, "hosts, line 2:");
    assert(!await Deno.stat(marker).then(() => true, () => false), "ssh ran the ProxyCommand");
  });

  await t.step("local-only options and bad values are usage errors, before ssh runs", async () => {
    for (
      const [args, message] of [
        [["--socket", sock("a")], "--socket is for a local server; use --remote-socket"],
        [["--trust-owner", "0"], "--trust-owner is for a local socket"],
        [["--concurrency", "0"], "--concurrency must be a whole number from 1 to 1024"],
        [["--host-timeout", "soon"], "soon"],
        [["--hosts-file", `${tmp.dir}/missing`], "missing"],
      ] as const
    ) {
      const r = await call(["-H", "a", ...args, "ping"]);
      assertEquals([r.code, r.stdout], [2, ""], `${args.join(" ")}: ${r.stderr}`);
      assertIncludes(r.stderr, message);
    }
  });

  await t.step("--hosts-file: one host per line, comments skipped, duplicates once", async () => {
    await Deno.writeTextFile(`${tmp.dir}/hosts`, "# the fleet\na\nb   # second\n\na\n");
    const r = await call(["--hosts-file", `${tmp.dir}/hosts`, "-H", "c", "ping"]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(lines(r.stdout), ["a | pong", "b | pong", "c | pong"]);
  });

  await t.step("Ctrl-C on a streaming call cancels it on every host", async () => {
    await using p = spawnSockd([
      "call",
      ...fleet,
      "-H",
      "a",
      "-H",
      "b",
      "-H",
      "c",
      "ticker",
      "--every",
      "100",
    ]);
    for (const h of ["a", "b", "c"]) await p.waitForOutput(`${h} | tick `, { ms: 15_000 });
    p.process.kill("SIGINT");
    assertEquals(await p.exitCode(10_000), 130, p.stderr());
    assertIncludes(p.stderr(), ": 0 ok, 0 failed, 0 unreachable, 3 cancelled (interrupted)");
    // Each server confirmed its cancel (106): none was merely cut off.
    assert(!p.stderr().includes("did not confirm"), p.stderr());
    // Every server is left with no call running: only the connection asking is listed.
    for (const h of ["a", "b", "c"]) {
      await waitFor(
        async () => {
          const r = await runSockd(["call", "--socket", sock(h), "--json", "connections"]);
          return JSON.parse(r.stdout).result.length === 1;
        },
        10_000,
        `the ticker connection on ${h} to close`,
      );
    }
  });

  await t.step("--json after Ctrl-C: each host ends with a confirmed cancel object", async () => {
    await using p = spawnSockd([
      "call",
      ...fleet,
      "--json",
      "-H",
      "a",
      "-H",
      "b",
      "ticker",
      "--every",
      "100",
    ]);
    for (const h of ["a", "b"]) await p.waitForOutput(`{"host":"${h}","data":"tick `, { ms: 15_000 });
    p.process.kill("SIGINT");
    assertEquals(await p.exitCode(10_000), 130, p.stderr());
    const objects = lines(p.stdout()).map((l) => JSON.parse(l));
    for (const h of ["a", "b"]) {
      const last = objects.filter((o) => o.host === h).at(-1);
      assertEquals([last.status, last.name, last.reach, last.confirmed], [
        106,
        "CANCELLED",
        "cancelled",
        true,
      ]);
    }
  });

  await t.step("a stopped server is reported as such while the others answer", async () => {
    await servers[2]!.stop();
    const r = await call(["-H", "a", "-H", "b", "-H", "c", "ping"]);
    assertEquals(r.code, 3);
    assertEquals(lines(r.stdout), ["a | pong", "b | pong"]);
    assertIncludes(r.stderr, `c | sockd: on c, no server at ${sock("c")} (is sockd serve running?)`);
    assertIncludes(r.stderr, ": 2 ok, 0 failed, 1 unreachable");
  });

  await t.step(
    "repl --host on a terminal: the banner names the host, Tab completes from its server",
    async () => {
      await using term = await Tmux.start(tmp.dir, [
        Deno.execPath(),
        ...SOCKD_ARGS,
        "repl",
        ...fleet,
        "-H",
        "b",
      ], {
        env: { XDG_STATE_HOME: `${tmp.dir}/state`, NO_COLOR: "1" },
      });
      await term.waitForInput("sockd> ", 15_000);
      await term.waitFor(/^connected to sockd \S+ at b \(access: admin\)$/m);
      await term.type("vers");
      await term.keys("Tab");
      await term.waitForInput("sockd> version ");
      await term.keys("Enter");
      await term.waitFor(/^sockd 0\.\d+\.\d+ \(deno /m);
    },
  );

  await t.step("repl --host: commands typed at one host through ssh", async () => {
    const r = await runSockd(["repl", ...fleet, "--host", "b"], { stdin: "ping\necho over ssh\n" });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stdout, "pong\nover ssh\n");
  });
});
