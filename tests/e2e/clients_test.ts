/**
 * The clients people and scripts really use — socat, nc (netcat-openbsd),
 * jq, rlwrap in a terminal — against `sockd serve` run as a subprocess
 * exactly as `deno task sockd serve` runs it.
 */
import { decodeFrameBody } from "../../lib/dialects/msgpack.ts";
import { FrameDecoder } from "../../lib/dialects/_frame_decoder.ts";
import { VERSION } from "../../lib/version.ts";
import { assert, assertEquals, assertIncludes } from "../assert.ts";
import { ROOT, type ServerProcess, startServer, tempDir, waitFor } from "../_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Run {
  code: number;
  stdout: string;
  bytes: Uint8Array;
  stderr: string;
}

/** Runs `cmd args...` with `stdin` piped in, killing it after `timeoutMs`. */
async function run(
  cmd: string,
  args: string[],
  stdin: string | Uint8Array,
  timeoutMs = 10_000,
): Promise<Run> {
  const child = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const w = child.stdin.getWriter();
    await w.write(typeof stdin === "string" ? enc.encode(stdin) : stdin);
    await w.close();
    const out = await child.output();
    return {
      code: out.code,
      stdout: dec.decode(out.stdout),
      bytes: out.stdout,
      stderr: dec.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** `printf INPUT | socat - UNIX-CONNECT:PATH` */
const socat = (path: string, input: string | Uint8Array) =>
  run("socat", ["-t", "5", "-", `UNIX-CONNECT:${path}`], input);
/** `printf INPUT | nc -NU PATH` (shut down the socket's write side at end of input). */
const ncN = (path: string, input: string) => run("nc", ["-NU", path], input);

/** One server subprocess for the whole file, with its temp dir. */
async function withServer(fn: (server: ServerProcess) => Promise<void>) {
  await using tmp = await tempDir();
  await using server = await startServer(`${tmp.dir}/sockd.sock`);
  await fn(server);
  assertEquals(await server.stop("SIGTERM"), 0, server.stderr());
}

Deno.test("e2e clients: socat and nc speak the text dialect", async (t) => {
  await withServer(async ({ path }) => {
    await t.step("printf 'echo hi\\n' | socat - UNIX-CONNECT:sock prints hi", async () => {
      const r = await socat(path, "echo hi\n");
      assertEquals([r.code, r.stdout], [0, "hi\n"], r.stderr);
    });
    await t.step("printf 'ping\\n' | nc -NU sock prints pong", async () => {
      const r = await ncN(path, "ping\n");
      assertEquals([r.code, r.stdout], [0, "pong\n"], r.stderr);
    });
    await t.step("a last line without a newline is still run", async () => {
      assertEquals((await ncN(path, "ping")).stdout, "pong\n");
    });
    await t.step("an unknown command prints one error line with its status", async () => {
      const r = await ncN(path, "pnig\n");
      assertEquals(r.stdout, 'error 101: Unknown command "pnig" (did you mean "ping"?)\n');
    });
    await t.step(
      "several piped lines are answered in order; quoting works; errors do not stop the rest",
      async () => {
        const r = await socat(
          path,
          `ping\r\necho "a  b" 'c d' e\\ f\n\nnope\necho "unclosed\nhelp nope\necho done\n`,
        );
        assertEquals(
          r.stdout,
          [
            "pong",
            "a  b c d e f",
            'error 101: Unknown command "nope"',
            "error 102: Unterminated double quote (opened at column 6)",
            'error 101: Unknown command "nope"',
            "done",
            "",
          ].join("\n"),
        );
      },
    );
    await t.step("an over-long line is 108, invalid UTF-8 is 102, and the connection goes on", async () => {
      const input = new Uint8Array([
        ...enc.encode(`echo ${"x".repeat(70 * 1024)}\n`),
        ...[0x65, 0x63, 0x68, 0x6f, 0x20, 0xff, 0x0a],
        ...enc.encode("ping\n"),
      ]);
      const r = await socat(path, input);
      assertEquals(
        r.stdout,
        "error 108: Line exceeds the limit of 65536 bytes (dropped up to the next newline)\n" +
          "error 102: Line is not valid UTF-8\npong\n",
      );
    });
    await t.step("nc without -N never half-closes: oneshot answers and closes", async () => {
      const r = await run("nc", ["-U", path], `oneshot echo "a b" c\nping\n`, 5_000);
      assertEquals([r.code, r.stdout], [0, "a b c\n"], r.stderr);
    });
    await t.step("quit closes the connection and ignores what follows", async () => {
      const r = await run("nc", ["-U", path], "ping\nquit\nping\n", 5_000);
      assertEquals([r.code, r.stdout], [0, "pong\n"]);
    });
    await t.step("prompt mode: every answer ends with an empty line, then the prompt", async () => {
      const r = await socat(path, "prompt\nping\n\nnope\nprompt\nping\n");
      assertEquals(
        r.stdout,
        'sockd> pong\n\nsockd> sockd> error 101: Unknown command "nope"\n\nsockd> pong\n',
      );
    });
  });
});

Deno.test("e2e clients: JSON lines through socat, nc and jq", async (t) => {
  await withServer(async ({ path }) => {
    await t.step(`echo '{"id":1,"command":"help"}' | socat - UNIX-CONNECT:sock | jq .`, async () => {
      const s = await socat(path, '{"id":1,"command":"help"}\n');
      assertEquals(s.code, 0, s.stderr);
      const jq = await run("jq", ["."], s.bytes);
      assertEquals(jq.code, 0, jq.stderr);
      // jq pretty-printed it, so it was one valid JSON document.
      assert(jq.stdout.startsWith("{\n"), jq.stdout);
      const answer = JSON.parse(jq.stdout);
      assertEquals([answer.id, answer.status], [1, 0]);
      assertIncludes(answer.result, "ping ");
      const status = await run("jq", ["-r", ".status"], s.bytes);
      assertEquals(status.stdout, "0\n");
    });
    await t.step(
      "nc -N: several requests, errors with names, ids kept, bad lines answered with id null",
      async () => {
        const r = await ncN(
          path,
          [
            '{"id":"a","command":"echo","args":["x y"]}',
            '{"id":2,"command":"pnig"}',
            '{"command":"ping"}',
            "{oops",
            '{"id":3,"command":"echo","args":["bytes stay valid JSON: \\u00ff"]}',
            "",
          ].join("\n"),
        );
        const answers = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
        const byId = (id: unknown) => answers.filter((a) => a.id === id);
        assertEquals(byId("a"), [{ id: "a", status: 0, result: "x y" }]);
        assertEquals(byId(2), [{
          id: 2,
          status: 101,
          error: 'Unknown command "pnig" (did you mean "ping"?)',
          name: "NOT_FOUND",
          details: { suggestion: "ping" },
        }]);
        assertEquals(byId(null).map((a) => [a.status, a.name]), [[102, "BAD_REQUEST"], [102, "BAD_REQUEST"]]);
        assertEquals(byId(3)[0].result, "bytes stay valid JSON: \u00ff");
        // jq reads the whole stream: one JSON value per line.
        const jq = await run("jq", ["-c", "select(.status != 0) | .status"], r.bytes);
        assertEquals(jq.stdout, "101\n102\n102\n");
      },
    );
  });
});

/** The bytes of a fenced block that follows `<!-- hexdump:NAME -->` in PROTOCOL.md. */
function documentedBytes(doc: string, name: string): Uint8Array {
  const m = new RegExp(`<!-- hexdump:${name} -->\\s*\`\`\`[a-z]*\\n([\\s\\S]*?)\`\`\``).exec(doc);
  if (!m) throw new Error(`PROTOCOL.md has no hexdump:${name} block`);
  const bytes: number[] = [];
  for (const line of m[1]!.split("\n")) {
    const hex = /^((?:[0-9a-f]{2} ?)+)/.exec(line)?.[1] ?? "";
    for (const b of hex.trim().split(/\s+/).filter(Boolean)) bytes.push(parseInt(b, 16));
  }
  return new Uint8Array(bytes);
}

function frames(bytes: Uint8Array): Record<string, unknown>[] {
  return new FrameDecoder(1 << 20).push(bytes).map((b) => decodeFrameBody(b.slice()));
}

Deno.test("e2e clients: msgpack through socat: PROTOCOL.md's hex dump is what the server does", async () => {
  const doc = await Deno.readTextFile(`${ROOT}PROTOCOL.md`);
  const request = documentedBytes(doc, "client");
  const reply = documentedBytes(doc, "server");
  await withServer(async ({ path }) => {
    const r = await socat(path, request);
    assertEquals(r.code, 0, r.stderr);
    const got = frames(r.bytes);
    const documented = frames(reply);
    assertEquals(got.length, 2);
    // The hello carries the server's version; everything else must match byte for byte.
    assertEquals(got[0]!.version, VERSION);
    assertEquals({ ...got[0], version: "?" }, { ...documented[0], version: "?" });
    const helloLength = 4 + new DataView(r.bytes.buffer, r.bytes.byteOffset).getUint32(0);
    const docHelloLength = 4 + new DataView(reply.buffer).getUint32(0);
    assertEquals([...r.bytes.subarray(helloLength)], [...reply.subarray(docHelloLength)]);
    assertEquals(got[1], { type: "end", id: 1, status: 0, result: "pong" });
  });
});

Deno.test("e2e clients: rlwrap nc -U in a terminal: type commands, see answers, quit closes", async () => {
  await using tmp = await tempDir();
  await withServer(async ({ path }) => {
    const tmux = (...args: string[]) =>
      new Deno.Command("tmux", {
        args: ["-S", `${tmp.dir}/tmux.sock`, ...args],
        stdout: "piped",
        stderr: "piped",
      })
        .output();
    const screen = async () => dec.decode((await tmux("capture-pane", "-p")).stdout);
    const created = await tmux("new-session", "-d", "-x", "120", "-y", "30", `rlwrap nc -U ${path}`);
    assertEquals(created.code, 0, dec.decode(created.stderr));
    try {
      const type = async (line: string, expect: string) => {
        await tmux("send-keys", "-l", line);
        await tmux("send-keys", "Enter");
        await waitFor(
          async () => (await screen()).includes(expect),
          10_000,
          `${JSON.stringify(expect)} on screen`,
        );
      };
      await type("ping", "pong");
      await type(`echo "a  b"   c`, "a  b c");
      await type("pnig", 'error 101: Unknown command "pnig" (did you mean "ping"?)');
      // (capture-pane drops the prompt's trailing space.)
      await type("prompt", "\nsockd>");
      await type("version", `sockd ${VERSION} (deno`);
      await tmux("send-keys", "-l", "quit");
      await tmux("send-keys", "Enter");
      // quit closes the connection, so nc (and rlwrap, and the tmux session) exit.
      await waitFor(
        async () => (await tmux("has-session")).code !== 0,
        10_000,
        "the terminal session to end",
      );
    } finally {
      await tmux("kill-server");
    }
  });
});
