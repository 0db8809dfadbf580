/**
 * `deno task install` as a user runs it: into a temp install root, then the
 * installed `sockd` from a directory outside the checkout — serve, call,
 * repl and bash completion — with nothing on stderr; then `deno task
 * uninstall`. The installed program is a shell script the test permission
 * set may not run, so it runs in bash inside tmux (which the set may run).
 */
import { assertEquals, assertIncludes } from "../assert.ts";
import { DENO, ROOT, tempDir } from "../_helpers.ts";
import { Tmux } from "../cli/_tmux.ts";
import { VERSION } from "../../lib/version.ts";

const BASH = ["/bin/bash", "/usr/bin/bash"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

/** Runs `deno task TASK ARGS...` of the checkout from `cwd`, as a user in another directory would. */
async function task(cwd: string, name: string, args: string[]) {
  const out = await new Deno.Command(DENO, {
    args: ["task", "-q", "--config", `${ROOT}deno.json`, name, ...args],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs a bash `script` in `cwd` (in tmux); returns what it printed on stdout and stderr. */
async function bash(dir: string, cwd: string, script: string): Promise<string> {
  const file = `${dir}/script-${crypto.randomUUID().slice(0, 8)}.sh`;
  const out = `${file}.out`;
  await Deno.writeTextFile(file, script);
  await using term = await Tmux.start(dir, [BASH!, "--norc", "-c", `bash --norc ${file} > ${out} 2>&1`], {
    cwd,
  });
  const status = await term.exitStatus(60_000);
  const text = await Deno.readTextFile(out);
  assertEquals(status, 0, `the script failed:\n${text}`);
  return text;
}

Deno.test({
  name: "install: deno task install puts a sockd on PATH that serves, calls, completes, from any directory",
  ignore: !BASH && Deno.env.get("CI") !== "true",
  async fn(t) {
    await using tmp = await tempDir();
    const root = `${tmp.dir}/root`;
    const elsewhere = `${tmp.dir}/elsewhere`;
    await Deno.mkdir(elsewhere);

    await t.step("install writes ROOT/bin/sockd, run from another directory", async () => {
      const r = await task(elsewhere, "install", ["--root", root]);
      assertEquals(r.stderr, "");
      assertEquals(r.code, 0);
      assertIncludes(r.stdout, `installed ${root}/bin/sockd (sockd ${VERSION} from ${ROOT})`);
      assertIncludes(r.stdout, `${root}/bin is not on your PATH`);
      // The bundle of the plain call, run with the checkout's deno.json (install.ts): on Linux kept in the
      // checkout as bin/sockd's #! interpreter; elsewhere behind /usr/bin/env in bin/sockd itself.
      const shim = await Deno.readTextFile(`${root}/bin/sockd`);
      const first = (text: string) => text.slice(0, text.indexOf("\n"));
      let bundle = shim;
      if (Deno.build.os === "linux") {
        assertEquals(first(shim), `#!${ROOT}dist/sockd-call.js`);
        bundle = await Deno.readTextFile(`${ROOT}dist/sockd-call.js`);
        assertEquals(first(bundle).replace(/^#!\/\S*\/deno /, "#!DENO "), "#!DENO -qP=sockd");
      } else {
        assertEquals(
          first(shim).replace(/ \S*deno run /, " deno run "),
          `#!/usr/bin/env -S deno run -q -P=sockd --config ${ROOT}deno.json --ext=js`,
        );
      }
      assertIncludes(bundle, "fastCall");
      assertEquals(/(^|\s)(-A|--allow-all)(\s|$)/.test(bundle), false);
    });

    await t.step("the installed sockd: serve, call, repl, completions; nothing on stderr", async () => {
      const denoDir = Deno.execPath().replace(/\/[^/]*$/, "");
      const sock = `${tmp.dir}/x.sock`;
      const out = await bash(
        tmp.dir,
        elsewhere,
        `set -u
export PATH=${root}/bin:${denoDir}:/usr/bin:/bin
cd ${elsewhere}
echo "type: $(type -t sockd) $(command -v sockd)"
sockd version
sockd serve --socket ${sock} --plugins ${ROOT}examples/cmds 2>serve.err &
srv=$!
for i in $(seq 300); do [ -S ${sock} ] && break; sleep 0.05; done
sockd call --socket ${sock} ping 2>call.err
echo "call exit $? stderr [$(cat call.err)]"
src() { deno run -q -P=sockd --config ${ROOT}deno.json ${ROOT}main.ts "$@"; }
for args in "--json echo a b" "nosuch" "--json nosuch" "--timeout 1x ping" "echo --json"; do
  a=$(sockd call --socket ${sock} $args 2>&1 </dev/null; echo "exit $?")
  b=$(src call --socket ${sock} $args 2>&1 </dev/null; echo "exit $?")
  [ "$a" = "$b" ] && echo "same: $args" || echo "differs: $args: [$a] vs [$b]"
done
# On a terminal a structured result is drawn as a table by a module loaded beside render.ts.
a=$(script -qec "sockd call --socket ${sock} connections" /dev/null | head -1 | tr -d '\\r')
b=$(script -qec "deno run -q -P=sockd --config ${ROOT}deno.json ${ROOT}main.ts call --socket ${sock} connections" /dev/null \
  | head -1 | tr -d '\\r')
[ "$a" = "$b" ] && echo "same on a terminal: \${a%% *}" || echo "differs on a terminal: [$a] vs [$b]"
sockd call --socket ${sock} count --to 50 2>&1 | head -1
printf 'greet ops\\n' | sockd repl --socket ${sock} --no-history 2>repl.err
echo "repl exit $? stderr [$(cat repl.err)]"
source <(sockd completions bash 2>comp.err)
COMP_WORDS=(sockd call --socket ${sock} gr); COMP_CWORD=4; _sockd
echo "completes gr: \${COMPREPLY[*]} stderr [$(cat comp.err)]"
kill -TERM $srv; wait $srv
echo "serve exit $?"
grep -ci warning serve.err || true
`,
      );
      assertEquals(out.split("\n"), [
        `type: file ${root}/bin/sockd`,
        `sockd ${VERSION}`,
        "pong",
        "call exit 0 stderr []",
        "same: --json echo a b",
        "same: nosuch",
        "same: --json nosuch",
        "same: --timeout 1x ping",
        "same: echo --json",
        "same on a terminal: ID",
        "1",
        "hello, ops",
        "repl exit 0 stderr []",
        "completes gr: greet stderr []",
        "serve exit 0",
        "0",
        "",
      ]);
    });

    await t.step(
      "install refuses to replace a sockd it did not write; uninstall removes only its own",
      async () => {
        const r = await task(elsewhere, "uninstall", ["--root", root]);
        assertEquals([r.code, r.stdout, r.stderr], [0, `removed ${root}/bin/sockd\n`, ""]);
        await Deno.writeTextFile(`${root}/bin/sockd`, "#!/bin/sh\necho another sockd\n");
        const again = await task(elsewhere, "install", ["--root", root]);
        assertEquals(again.code, 1);
        assertEquals(
          again.stderr,
          `install: ${root}/bin/sockd exists and was not written by sockd's installer; --force replaces it\n`,
        );
        const un = await task(elsewhere, "uninstall", ["--root", root]);
        assertEquals(un.code, 1);
        assertIncludes(un.stderr, "was not written by sockd's installer; left in place");
        assertEquals(await Deno.readTextFile(`${root}/bin/sockd`), "#!/bin/sh\necho another sockd\n");
      },
    );
  },
});
