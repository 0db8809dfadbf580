/**
 * `sockd completions bash|zsh|fish`: the scripts run in the real shells
 * (started through tmux, which the test permission set may run), against a
 * live `sockd serve` with a plugin, with jq and with the sed fallback.
 * zsh and fish are tested where they are installed.
 */
import { assertEquals, assertIncludes } from "../assert.ts";
import { ROOT, runSockd, startServer, tempDir } from "../_helpers.ts";
import { Tmux } from "./_tmux.ts";

const PLUGINS = `${ROOT}tests/cli/fixtures/plugins`;

async function firstExisting(paths: string[]): Promise<string | undefined> {
  for (const p of paths) {
    try {
      if ((await Deno.stat(p)).isFile) return p;
    } catch { /* not there */ }
  }
  return undefined;
}

const BASH = await firstExisting(["/bin/bash", "/usr/bin/bash"]);
const ZSH = await firstExisting(["/usr/bin/zsh", "/bin/zsh", "/usr/local/bin/zsh"]);
const FISH = await firstExisting(["/usr/bin/fish", "/usr/local/bin/fish"]);
const SED = await firstExisting(["/usr/bin/sed", "/bin/sed"]);
const JQ = await firstExisting(["/usr/bin/jq", "/usr/local/bin/jq"]);
/** CI installs every shell (.ci/run): there a missing one is a failure, not a skipped test. */
const IN_CI = Deno.env.get("CI") === "true";

/**
 * A bin directory holding a `sockd` that runs this checkout exactly as the
 * tests run it; with `minimal`, it holds only `sockd` and `sed` (so no jq on PATH).
 */
async function binDir(dir: string, minimal: boolean): Promise<string> {
  const bin = `${dir}/${minimal ? "bin-min" : "bin"}`;
  await Deno.mkdir(bin, { recursive: true });
  await Deno.writeTextFile(
    `${bin}/sockd`,
    `#!/bin/sh\nexec "${Deno.execPath()}" run -q --config "${ROOT}deno.json" -P=sockd "${ROOT}main.ts" "$@"\n`,
    { mode: 0o755 },
  );
  if (minimal) await Deno.symlink(SED!, `${bin}/sed`);
  return minimal ? bin : `${bin}:${Deno.env.get("PATH")}`;
}

/** Runs `argv` to completion in tmux (the shells are not on the test's run list); returns its output. */
async function runInShell(dir: string, argv: string[]): Promise<string> {
  const out = `${dir}/out-${crypto.randomUUID().slice(0, 8)}.txt`;
  const wrapped = [BASH!, "-c", `"$@" > ${out} 2>&1`, "run", ...argv];
  await using term = await Tmux.start(dir, wrapped);
  const status = await term.exitStatus(30_000);
  const text = await Deno.readTextFile(out);
  assertEquals(status, 0, `the shell failed: ${text}`);
  return text;
}

/** A bash snippet printing what `_sockd` completes for each line (words separated by spaces). */
function bashProbe(script: string, lines: string[]): string {
  return [
    `source ${script}`,
    `t() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); _sockd; echo "$* => \${COMPREPLY[*]}"; }`,
    ...lines.map((l) => `t ${l}`),
  ].join("\n");
}

Deno.test({
  name: "completions: bash completes subcommands, and the live server's commands and flags (jq and sed)",
  ignore: !IN_CI && (!BASH || !SED),
  async fn(t) {
    await using tmp = await tempDir();
    await using server = await startServer(`${tmp.dir}/s.sock`, ["--plugins", PLUGINS]);
    const script = `${tmp.dir}/sockd.bash`;
    const gen = await runSockd(["completions", "bash"]);
    assertEquals(gen.code, 0, gen.stderr);
    await Deno.writeTextFile(script, gen.stdout);
    const s = server.path;
    const probe = bashProbe(script, [
      `sockd ""`,
      `sockd c`,
      `sockd call -s ${s} ""`,
      `sockd call -s ${s} ti`,
      `sockd call --socket ${s} tick --e`,
      `sockd call -s ${s} help f`,
      `sockd call --`,
      `sockd repl --no`,
      `sockd completions ""`,
    ]);
    const expected = [
      `sockd  => serve call repl completions --help --version`,
      `sockd c => call completions`,
      `sockd call -s ${s}  => conn connections echo follow help log-level ping plugins reload shutdown stats status tick tick-endings upgrade version`,
      `sockd call -s ${s} ti => tick tick-endings`,
      `sockd call --socket ${s} tick --e => --every`,
      `sockd call -s ${s} help f => follow`,
      "sockd call -- => --socket --json --timeout --no-stdin --interval --count --trust-owner --host --hosts-file " +
      "--concurrency --host-timeout --remote-socket --remote-sockd --ssh-config --ssh-option --help",
      `sockd repl --no => --no-history`,
      `sockd completions  => bash zsh fish`,
      "",
    ];
    /** Subcommands come from the CLI (others may add one, e.g. init): these must be offered. */
    const checkFirst = (line: string) => {
      for (const sub of ["serve", "call", "repl", "completions", "--help"]) assertIncludes(line, ` ${sub}`);
    };

    await t.step({
      name: "with jq",
      ignore: !IN_CI && !JQ,
      fn: async () => {
        const path = await binDir(tmp.dir, false);
        const out = (await runInShell(tmp.dir, ["env", `PATH=${path}`, BASH!, "--norc", "-c", probe])).split(
          "\n",
        );
        checkFirst(out[0]!);
        assertEquals(out.slice(1), expected.slice(1));
      },
    });

    await t.step("without jq, with the sed fallback", async () => {
      const path = await binDir(tmp.dir, true);
      const out = await runInShell(tmp.dir, [
        "/usr/bin/env",
        `PATH=${path}`,
        BASH!,
        "--norc",
        "-c",
        `command -v jq && exit 1\n${probe}`,
      ]);
      const lines = out.split("\n");
      checkFirst(lines[0]!);
      assertEquals(lines.slice(1), expected.slice(1));
    });
  },
});

Deno.test({
  name: "completions: a socket owned by another uid completes nothing, unless --trust-owner names it",
  // chown to another uid needs root (CI runs as root).
  ignore: Deno.uid() !== 0 || (!IN_CI && (!BASH || !SED)),
  async fn() {
    await using tmp = await tempDir();
    await using server = await startServer(`${tmp.dir}/s.sock`, ["--plugins", PLUGINS]);
    await Deno.chown(server.path, 4242, 4242);
    const script = `${tmp.dir}/sockd.bash`;
    const gen = await runSockd(["completions", "bash"]);
    await Deno.writeTextFile(script, gen.stdout);
    const s = server.path;
    const probe = bashProbe(script, [
      `sockd call -s ${s} ti`,
      `sockd call -s ${s} --trust-owner 4242 ti`,
      `sockd call --trust-owner 4242 -s ${s} tick --e`,
    ]);
    const out = await runInShell(tmp.dir, [
      "env",
      `PATH=${await binDir(tmp.dir, false)}`,
      BASH!,
      "--norc",
      "-c",
      probe,
    ]);
    assertEquals(out.split("\n"), [
      `sockd call -s ${s} ti => `,
      `sockd call -s ${s} --trust-owner 4242 ti => tick tick-endings`,
      `sockd call --trust-owner 4242 -s ${s} tick --e => --every`,
      "",
    ]);
  },
});

Deno.test({
  name: "completions: Tab in an interactive bash completes from the live server",
  ignore: !IN_CI && !BASH,
  async fn() {
    await using tmp = await tempDir();
    await using server = await startServer(`${tmp.dir}/s.sock`, ["--plugins", PLUGINS]);
    const path = await binDir(tmp.dir, false);
    await using term = await Tmux.start(tmp.dir, [
      "env",
      `PATH=${path}`,
      `SOCKD_SOCKET=${server.path}`,
      "PS1=$ ",
      BASH!,
      "--norc",
      "--noprofile",
      "-i",
    ]);
    await term.waitForInput("$ ");
    await term.type("source <(sockd completions bash)");
    await term.keys("Enter");
    await term.waitForInput("$ ", 15_000);
    await term.type("sockd ca");
    await term.keys("Tab");
    await term.waitForInput("$ sockd call ");
    await term.type("vers");
    await term.keys("Tab");
    await term.waitForInput("$ sockd call version ", 15_000);
    await term.keys("Enter");
    await term.waitFor(/^sockd \S+ \(deno \S+\)$/m, 15_000);
    await term.waitForInput("$ ");
    await term.type("sockd call ti");
    await term.keys("Tab"); // the common prefix of tick and tick-endings
    await term.waitForInput("$ sockd call tick", 15_000);
    await term.keys("Tab", "Tab"); // ambiguous: bash lists on the second Tab
    await term.waitFor(/^tick +tick-endings *$/m, 15_000);
  },
});

Deno.test({
  name: "completions: zsh completes subcommands, commands and flags",
  ignore: !IN_CI && !ZSH,
  async fn() {
    await using tmp = await tempDir();
    await using server = await startServer(`${tmp.dir}/s.sock`, ["--plugins", PLUGINS]);
    const path = await binDir(tmp.dir, false);
    await using term = await Tmux.start(tmp.dir, [
      "env",
      `PATH=${path}`,
      `SOCKD_SOCKET=${server.path}`,
      "PROMPT=%% ",
      ZSH!,
      "-f",
    ]);
    await term.waitForInput("% ");
    await term.type("autoload -U compinit && compinit -u && source <(sockd completions zsh)");
    await term.keys("Enter");
    await term.waitForInput("% ", 15_000);
    await term.type("sockd call vers");
    await term.keys("Tab");
    await term.waitForInput("% sockd call version ", 15_000);
    await term.keys("C-u");
    await term.type("sockd call tick --ev");
    await term.keys("Tab");
    await term.waitForInput("% sockd call tick --every ", 15_000);
    await term.keys("C-u");
    await term.type("sockd re");
    await term.keys("Tab");
    await term.waitForInput("% sockd repl ", 15_000);
  },
});

Deno.test({
  name: "completions: fish completes subcommands, commands and flags (with and without jq)",
  ignore: !IN_CI && (!FISH || !BASH || !SED),
  async fn() {
    await using tmp = await tempDir();
    await using server = await startServer(`${tmp.dir}/s.sock`, ["--plugins", PLUGINS]);
    const script = `${tmp.dir}/sockd.fish`;
    await Deno.writeTextFile(script, (await runSockd(["completions", "fish"])).stdout);
    const s = server.path;
    const probe = [
      `source ${script}`,
      `complete -C 'sockd call -s ${s} ti'`,
      `echo ==`,
      `complete -C 'sockd call -s ${s} tick --'`,
      `echo ==`,
      `complete -C 'sockd completions '`,
    ].join("; ");
    const expected = "tick\ntick-endings\n==\n--count\n--every\n==\nbash\nfish\nzsh\n";
    for (const minimal of [false, true]) {
      const path = await binDir(tmp.dir, minimal);
      const out = await runInShell(tmp.dir, [
        "/usr/bin/env",
        `PATH=${path}`,
        FISH!,
        "--no-config",
        "-c",
        probe,
      ]);
      assertEquals(out, expected, minimal ? "without jq" : "with jq");
    }
  },
});

Deno.test({
  name: "completions: when sockd is an alias, not a program on PATH, bash and fish still complete",
  ignore: !IN_CI && (!BASH || !SED),
  async fn(t) {
    await using tmp = await tempDir();
    await using server = await startServer(`${tmp.dir}/s.sock`, ["--plugins", PLUGINS]);
    const s = server.path;
    // A bin directory with sed only: no sockd, no jq, no deno. The alias cannot be called from a script.
    const bin = `${tmp.dir}/bin-alias`;
    await Deno.mkdir(bin);
    await Deno.symlink(SED!, `${bin}/sed`);
    const alias = `deno task -q --config ${ROOT}deno.json sockd`;
    await t.step("bash", async () => {
      const script = `${tmp.dir}/sockd.bash`;
      await Deno.writeTextFile(script, (await runSockd(["completions", "bash"])).stdout);
      const probe = `shopt -s expand_aliases\nalias sockd='${alias}'\ntype -t sockd\n` +
        bashProbe(script, [`sockd call -s ${s} ti`]);
      const out = await runInShell(tmp.dir, ["/usr/bin/env", `PATH=${bin}`, BASH!, "--norc", "-c", probe]);
      assertEquals(out, `alias\nsockd call -s ${s} ti => tick tick-endings\n`);
    });
    await t.step({
      name: "fish",
      ignore: !IN_CI && !FISH,
      fn: async () => {
        const script = `${tmp.dir}/sockd.fish`;
        await Deno.writeTextFile(script, (await runSockd(["completions", "fish"])).stdout);
        // A fish alias is a function, which a script can call: with deno on PATH, it just works.
        const path = `${bin}:${Deno.execPath().replace(/\/[^/]*$/, "")}`;
        const probe = `alias sockd '${alias}'; source ${script}; complete -C 'sockd call -s ${s} ti'`;
        const out = await runInShell(tmp.dir, [
          "/usr/bin/env",
          `PATH=${path}`,
          FISH!,
          "--no-config",
          "-c",
          probe,
        ]);
        assertEquals(out, "tick\ntick-endings\n");
      },
    });
  },
});

Deno.test("completions: an unknown shell is a usage error (exit 2)", async () => {
  const r = await runSockd(["completions", "tcsh"]);
  assertEquals(r.code, 2);
  assertIncludes(r.stderr, "bash, zsh, fish");
  assertEquals(r.stdout, "");
});
