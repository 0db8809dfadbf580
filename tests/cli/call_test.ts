/**
 * `sockd call` as a real subprocess (the task's entry point and permission
 * set) against in-process servers whose commands record what the server saw.
 */
import type { Command } from "../../lib/command.ts";
import { Exit, EXIT_CODE_MEANINGS } from "../../lib/cli/exit_codes.ts";
import { serve, type ServeOptions } from "../../lib/server.ts";
import { assert, assertEquals, assertIncludes, assertMatch } from "../assert.ts";
import { ROOT, runSockd, spawnSockd, tempDir } from "../_helpers.ts";
import { Tmux } from "./_tmux.ts";
import { sleep } from "../../lib/_abortable.ts";

/** How each `stream` call ended, as the server saw it. */
const endings: string[] = [];

/** How each `slow` call ended, as the server saw it. */
const slowEnded: string[] = [];

const COMMANDS: Command[] = [
  {
    name: "stream",
    summary: "A line every 20 ms until cancelled; records how it ended",
    timeout: 0,
    flags: { count: { type: "number", default: 1_000_000 } },
    async *run(ctx) {
      ctx.signal.addEventListener("abort", () => {
        const r = ctx.signal.reason as { status?: number; message?: string };
        endings.push(`${r.status} ${r.message}`);
      }, { once: true });
      for (let i = 1; i <= Number(ctx.flags.count) && !ctx.signal.aborted; i++) {
        yield `line ${i}\n`;
        await sleep(20, ctx.signal);
      }
      return "end of stream";
    },
  },
  {
    name: "values",
    summary: "Streams structured values, then returns a result",
    async *run() {
      yield { n: 1 };
      yield "text\n";
      yield new Uint8Array([1, 2, 255]);
      return { done: true };
    },
  },
  {
    name: "cat",
    summary: "Streams its input back",
    input: true,
    async *run(ctx) {
      for await (const chunk of ctx.input) yield chunk;
    },
  },
  {
    name: "blob",
    summary: "Streams N pattern bytes in chunks of S, with a line and a value halfway",
    async *run(ctx) {
      const [n, size] = ctx.args.map(Number) as [number, number];
      for (let at = 0; at < n; at += size) {
        if (at === size * Math.floor(n / size / 2)) yield* ["halfway\n", { half: true }];
        yield patternBytes(at, Math.min(size, n - at));
      }
      return "done";
    },
  },
  {
    name: "slow",
    summary: "Answers after 5 s",
    run: async (ctx) => {
      await sleep(5000, ctx.signal);
      slowEnded.push(ctx.signal.aborted ? `aborted: ${(ctx.signal.reason as Error).message}` : "finished");
      return "too late";
    },
  },
  {
    name: "words",
    summary: "Answers the words it got, as JSON (declares no args)",
    run: (ctx) => JSON.stringify(ctx.args),
  },
  { name: "fail", summary: "Throws", run: () => Promise.reject(new Error("Disk on fire")) },
  { name: "danger", summary: "Admin only", access: "admin", run: () => "done" },
  { name: "peek", summary: "Read level", access: "read", run: () => "peeked" },
];

/** Bytes `[at, at + n)` of a pattern in which a lost, doubled or misplaced byte shows. */
function patternBytes(at: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = ((at + i) * 7 + ((at + i) >>> 8)) & 0xff;
  return out;
}

/** An in-process server with {@linkcode COMMANDS}. */
async function server(dir: string, name: string, options: Partial<ServeOptions> = {}) {
  const s = await serve({ path: `${dir}/${name}.sock`, commands: COMMANDS, ...options });
  return Object.assign(s, { [Symbol.asyncDispose]: () => s.close({ drainMs: 0 }) });
}

/** Asserts the run failed with `code` and exactly one `sockd: …` line on stderr matching `message`. */
function assertFails(r: { code: number; stderr: string }, code: number, message: RegExp) {
  assertEquals(r.code, code, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.split("\n");
  assertEquals(lines.length, 2, `one line on stderr, got ${JSON.stringify(r.stderr)}`);
  assertEquals(lines[1], "");
  assertMatch(lines[0]!, /^sockd: \S/);
  assertMatch(lines[0]!, message);
}

Deno.test("call: stdin is piped through to the command's input, byte for byte", async (t) => {
  await using tmp = await tempDir();
  await using s = await server(tmp.dir, "s");

  await t.step("300 KB of binary data round-trips", async () => {
    const data = new Uint8Array(300 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + (i >> 8)) & 0xff;
    const r = await runSockd(["call", "-s", s.path, "cat"], { stdin: data, timeoutMs: 10_000 });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.bytes.length, data.length);
    assert(r.bytes.every((b, i) => b === data[i]), "the bytes differ");
  });

  await t.step("4 MiB from a parent that writes all of stdin before it reads stdout", async () => {
    // Output is not written synchronously while stdin is read: a blocked stdout would stop the
    // input, and such a parent would wait on us forever (killed here after 10 s).
    const data = new Uint8Array(4 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 12)) & 0xff;
    const r = await runSockd(["call", "-s", s.path, "cat"], { stdin: data, timeoutMs: 10_000 });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.bytes.length, data.length);
    assert(r.bytes.every((b, i) => b === data[i]), "the bytes differ");
  });

  await t.step("text from a pipe", async () => {
    const r = await runSockd(["call", "-s", s.path, "cat"], { stdin: "one\ntwo\n" });
    assertEquals([r.code, r.stdout], [0, "one\ntwo\n"]);
  });

  await t.step("--no-stdin sends none", async () => {
    const r = await runSockd(["call", "-s", s.path, "--no-stdin", "cat"], { stdin: "ignored" });
    assertEquals([r.code, r.stdout], [0, ""]);
  });
});

Deno.test("call: large output arrives byte for byte, in order with the text and values between", async (t) => {
  await using tmp = await tempDir();
  await using s = await server(tmp.dir, "s");
  const n = 3 * 1024 * 1024 + 5;
  for (const size of [64 * 1024, 100_003, 1024 * 1024]) {
    await t.step(`${n} bytes in chunks of ${size}`, async () => {
      const r = await runSockd(["call", "-s", s.path, "blob", String(n), String(size)], {
        timeoutMs: 20_000,
      });
      assertEquals(r.code, 0, r.stderr);
      const half = size * Math.floor(n / size / 2);
      const middle = new TextEncoder().encode('halfway\n{"half":true}\n');
      const want = new Uint8Array(n + middle.length + 5);
      want.set(patternBytes(0, half));
      want.set(middle, half);
      want.set(patternBytes(half, n - half), half + middle.length);
      want.set(new TextEncoder().encode("done\n"), n + middle.length);
      assertEquals(r.bytes.length, want.length);
      const bad = r.bytes.findIndex((b, i) => b !== want[i]);
      assertEquals(bad, -1, `first wrong byte at ${bad}`);
    });
  }
});

Deno.test("call: --json prints one JSON object per event", async (t) => {
  await using tmp = await tempDir();
  await using s = await server(tmp.dir, "s");

  await t.step("data events, then the end with the result", async () => {
    const r = await runSockd(["call", "-s", s.path, "--json", "values"]);
    assertEquals(r.code, 0, r.stderr);
    const events = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    assertEquals(events.length, 4);
    assertEquals(events[0], { data: { n: 1 } });
    assertEquals(events[1], { data: "text\n" });
    assert("data" in events[2], "bytes are a data event too");
    assertEquals(events[3], { status: 0, result: { done: true } });
  });

  await t.step("an error is the last event, and also one line on stderr", async () => {
    const r = await runSockd(["call", "-s", s.path, "--json", "strem"]);
    assertFails(r, Exit.USAGE, /unknown command "strem" \(did you mean "stream"\?\)/);
    const end = JSON.parse(r.stdout);
    assertEquals([end.status, end.name], [101, "NOT_FOUND"]);
    assertIncludes(end.error, 'Unknown command "strem"');
  });

  await t.step("the human form of the same call", async () => {
    const r = await runSockd(["call", "-s", s.path, "values"]);
    assertEquals(r.code, 0);
    assert(r.stdout.startsWith('{"n":1}\ntext\n'), r.stdout);
    assert(r.stdout.endsWith('{\n  "done": true\n}\n'), r.stdout);
  });
});

Deno.test("call: every documented exit code, each error one line on stderr", async (t) => {
  await using tmp = await tempDir();
  await using admin = await server(tmp.dir, "admin");
  await using readOnly = await server(tmp.dir, "read", { access: "read" });
  await using small = await server(tmp.dir, "small", { limits: { maxFrameBytes: 4096 } });
  await using busy = await server(tmp.dir, "busy", { limits: { maxCallsPerConnection: 0 } });

  await t.step("0 OK", async () => {
    const r = await runSockd(["call", "-s", admin.path, "stream", "--count", "2"]);
    assertEquals([r.code, r.stdout, r.stderr], [Exit.OK, "line 1\nline 2\nend of stream\n", ""]);
  });

  await t.step("1 FAILED: the command threw (105)", async () => {
    assertFails(await runSockd(["call", "-s", admin.path, "fail"]), Exit.FAILED, /^sockd: disk on fire$/);
  });

  await t.step("2 USAGE: unknown command (101), bad arguments (110), bad use of sockd", async () => {
    assertFails(await runSockd(["call", "-s", admin.path, "nope"]), Exit.USAGE, /unknown command "nope"/);
    assertFails(
      await runSockd(["call", "-s", admin.path, "stream", "--count", "many"]),
      Exit.USAGE,
      /--count needs a number, got "many" \(usage: stream \[--count N\] \[WORDS\.\.\.\]\)/,
    );
    assertFails(
      await runSockd(["call", "-s", admin.path, "--timeout", "soon", "ping"]),
      Exit.USAGE,
      /invalid duration "soon"/,
    );
    const r = await runSockd(["call", "--bogus", "ping"]);
    assertEquals(r.code, Exit.USAGE);
    assertIncludes(r.stderr, "unknown option '--bogus'");
  });

  await t.step("3 CONNECTION: no server", async () => {
    assertFails(
      await runSockd(["call", "-s", `${tmp.dir}/nobody.sock`, "ping"]),
      Exit.CONNECTION,
      /^sockd: no server at .*nobody\.sock \(is sockd serve running\?\)$/,
    );
  });

  await t.step("4 TIMEOUT: --timeout is the call's deadline (104 from the server)", async () => {
    const r = await runSockd(["call", "-s", admin.path, "--timeout", "300ms", "slow"]);
    assertFails(r, Exit.TIMEOUT, /^sockd: deadline of 300 ms passed$/);
    // The server's deadline stopped the command: it did not run its 5 s.
    assertEquals(slowEnded, ["aborted: Deadline of 300 ms passed"]);
  });

  await t.step("5 FORBIDDEN: a read-only socket refuses an admin command (107)", async () => {
    assertFails(
      await runSockd(["call", "-s", readOnly.path, "danger"]),
      Exit.FORBIDDEN,
      /needs access level admin; this socket allows read/,
    );
    const ok = await runSockd(["call", "-s", readOnly.path, "peek"]);
    assertEquals([ok.code, ok.stdout], [0, "peeked\n"]);
  });

  await t.step("6 REFUSED: a frame over the server's limit (108)", async () => {
    // With stdin piped too: the client's later input writes fail once the server has closed,
    // and the server's own answer (108) must still be what the user sees.
    for (const extra of [["--no-stdin"], []]) {
      assertFails(
        await runSockd(["call", "-s", small.path, ...extra, "echo", "x".repeat(10_000)], {
          stdin: "some input",
        }),
        Exit.REFUSED,
        /4096/,
      );
    }
  });

  await t.step("6 REFUSED: no room for another call (109)", async () => {
    assertFails(await runSockd(["call", "-s", busy.path, "ping"]), Exit.REFUSED, /too many calls in flight/i);
  });
});

Deno.test("call: Ctrl-C (SIGINT) cancels the remote call, which ends with 106, then exits 130", async () => {
  await using tmp = await tempDir();
  await using s = await server(tmp.dir, "s");
  endings.length = 0;
  await using p = spawnSockd(["call", "-s", s.path, "stream"]);
  await p.waitForOutput("line 3\n");
  p.process.kill("SIGINT");
  assertEquals(await p.exitCode(), Exit.INTERRUPTED);
  assertEquals(p.stderr(), "sockd: interrupted; the call was cancelled\n");
  // The server saw a cancel request (not merely a dropped connection).
  assertEquals(endings, ["106 Cancelled by the client"]);
});

Deno.test("call: a closed stdout (| head) cancels the remote call and exits 141 quietly", async () => {
  await using tmp = await tempDir();
  await using s = await server(tmp.dir, "s");
  endings.length = 0;
  await using p = spawnSockd(["call", "-s", s.path, "stream"], { stdout: "manual" });
  const reader = p.process.stdout.getReader();
  const first = await reader.read();
  assert(!first.done && new TextDecoder().decode(first.value).startsWith("line 1\n"));
  await reader.cancel(); // closes our end of the pipe, as `head` does when it has enough
  assertEquals(await p.exitCode(), Exit.BROKEN_PIPE);
  assertEquals(p.stderr(), "");
  assertEquals(endings, ["106 Cancelled by the client"]);
});

Deno.test("call: a `while read` loop over three lines prints three answers (stdin goes only to commands that take input)", async () => {
  await using tmp = await tempDir();
  await using s = await server(tmp.dir, "s");
  const sockd = `deno run -q -P=sockd ${ROOT}main.ts call -s ${s.path}`;
  const loop = `printf 'a b\\nc\\nd\\n' | while read h; do ${sockd} words "$h"; done; echo "loop done"`;
  await using tmux = await Tmux.start(tmp.dir, ["sh", "-c", loop], { width: 200 });
  const screen = await tmux.waitFor("loop done", 20_000);
  assertEquals(screen.trim().split("\n").slice(0, 4), ['["a b"]', '["c"]', '["d"]', "loop done"]);
});

Deno.test("call: a command that declares no args gets its words as they are, flag-like ones too", async () => {
  await using tmp = await tempDir();
  await using s = await server(tmp.dir, "s");
  const r = await runSockd(["call", "-s", s.path, "words", "world", "--loud", "-x", "a b"]);
  assertEquals([r.code, r.stdout], [0, '["world","--loud","-x","a b"]\n']);
});

Deno.test("call: sockd's own option after the command is refused with the corrected command line", async () => {
  await using tmp = await tempDir();
  await using s = await server(tmp.dir, "s");
  const r = await runSockd(["call", "-s", s.path, "stream", "--count", "1", "--json"]);
  assertFails(
    r,
    Exit.USAGE,
    new RegExp(
      `^sockd: unknown option '--json' \\(usage: stream \\[--count N\\] \\[WORDS\\.\\.\\.\\]\\); --json is an option of sockd call, which goes before the command: sockd call --socket ${s.path} --json stream --count 1$`,
    ),
  );
});

Deno.test("call: --interval repeats the call, --count N times", async () => {
  await using tmp = await tempDir();
  await using s = await server(tmp.dir, "s");
  const started = performance.now();
  const r = await runSockd(["call", "-s", s.path, "--interval", "150ms", "--count", "3", "peek"]);
  const ms = performance.now() - started;
  assertEquals([r.code, r.stdout], [0, "peeked\npeeked\npeeked\n"]);
  assert(ms >= 300, `two intervals of 150 ms between three calls, took ${ms} ms`);
  assertFails(await runSockd(["call", "-s", s.path, "--count", "0", "peek"]), Exit.USAGE, /--count needs/);
  assertFails(await runSockd(["call", "-s", s.path, "-i", "soon", "peek"]), Exit.USAGE, /Invalid duration/i);
});

Deno.test("call: --help prints the exit code table", async () => {
  const r = await runSockd(["call", "--help"]);
  assertEquals(r.code, 0);
  const table = r.stdout.slice(r.stdout.indexOf("Exit codes:"));
  for (const [code, meaning] of EXIT_CODE_MEANINGS) {
    assertIncludes(table, `${String(code).padStart(3)}  ${meaning}\n`);
  }
});

Deno.test("sockd: every usage error is one `sockd:` line; a mistyped subcommand gets did you mean; a file that is no socket says so", async () => {
  assertFails(
    await runSockd(["verison"]),
    Exit.USAGE,
    /^sockd: unknown command 'verison' \(did you mean "version"\?\)$/,
  );
  assertFails(await runSockd(["call", "--bogus", "x"]), Exit.USAGE, /^sockd: unknown option '--bogus'$/);
  assertFails(await runSockd(["call"]), Exit.USAGE, /^sockd: missing required argument 'command'$/);
  assertFails(
    await runSockd(["call", "--socket", "/etc/passwd", "ping"]),
    Exit.CONNECTION,
    /^sockd: \/etc\/passwd is not a socket \(no server listens there; is the path right\?\)$/,
  );
});

Deno.test("call: a server without the help built-in still gets stdin, as before input was declared", async () => {
  await using tmp = await tempDir();
  await using s = await server(tmp.dir, "bare", { builtins: false });
  const r = await runSockd(["call", "-s", s.path, "cat"], { stdin: "kept\n" });
  assertEquals([r.code, r.stdout], [0, "kept\n"]);
});
