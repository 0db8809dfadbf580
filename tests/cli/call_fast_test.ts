/**
 * The fast path of a plain `sockd call` (main.ts → lib/cli/call_fast.ts, the
 * one-shot client) against the full CLI (lib/cli/main.ts, lib/client.ts):
 * the same command line prints the same bytes, the same stderr and exits
 * with the same code. Both run as subprocesses with the `sockd` permission set.
 */
import type { Command } from "../../lib/command.ts";
import { parsePlainCall } from "../../lib/cli/call_fast.ts";
import { parseCallArgv } from "../../lib/cli/call_argv.ts";
import { serve, type ServeOptions } from "../../lib/server.ts";
import { connectOneShot } from "../../lib/cli/_oneshot_client.ts";
import { SockdError, Status } from "../../lib/errors.ts";
import { assert, assertEquals } from "../assert.ts";
import { ROOT, tempDir } from "../_helpers.ts";
import { FAST, FULL, type Run, run } from "./_call_paths.ts";
import { sleep } from "../../lib/_abortable.ts";
import { Exit } from "../../lib/cli/exit_codes.ts";
import { moduleGraph } from "../_module_graph.ts";

/** Runs `args` through both paths; asserts they agree and returns what they printed. */
async function same(
  args: string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [fast, full] = await Promise.all([run(FAST, args, options), run(FULL, args, options)]);
  const show = (r: Run) => ({ code: r.code, stdout: new TextDecoder().decode(r.stdout), stderr: r.stderr });
  assertEquals(show(fast), show(full), `sockd call ${args.join(" ")}`);
  assertEquals(fast.stdout, full.stdout, "byte for byte");
  return show(fast);
}

const COMMANDS: Command[] = [
  {
    name: "values",
    summary: "Every kind of chunk and a structured result",
    async *run() {
      yield { n: 1, at: new Date(1_700_000_000_123), big: 12345678901234567890n, list: [null, 1.5] };
      yield "text without newline";
      yield new Uint8Array([0, 1, 2, 255, 10]);
      yield { bytes: new Uint8Array([9, 8]), "": "", "é": "✓" };
      return { done: true, nested: { deep: [new Uint8Array([1])] } };
    },
  },
  {
    name: "stream",
    summary: "Three lines, 20 ms apart",
    async *run(ctx) {
      for (let i = 1; i <= 3; i++) {
        yield `line ${i}\n`;
        await sleep(20, ctx.signal);
      }
      return "end of stream";
    },
  },
  { name: "bytes", summary: "A bytes result", run: () => new Uint8Array([104, 105, 0, 255]) },
  { name: "nothing", summary: "No result", run: () => undefined },
  { name: "number", summary: "A number result", run: () => 42 },
  {
    name: "cat",
    summary: "Streams its input back",
    input: true,
    async *run(ctx) {
      for await (const chunk of ctx.input) yield chunk;
    },
  },
  { name: "fail", summary: "Throws", run: () => Promise.reject(new Error("Disk on fire")) },
  {
    name: "slow",
    summary: "Answers after 5 s",
    run: async (ctx) => {
      await sleep(5000, ctx.signal);
      return "too late";
    },
  },
  { name: "danger", summary: "Admin only", access: "admin", run: () => "done" },
  { name: "add", summary: "Adds", args: [{ name: "a" }, { name: "b" }], run: (ctx) => ctx.args.join("+") },
];

async function server(path: string, options: Partial<ServeOptions> = {}) {
  const s = await serve({ path, commands: COMMANDS, ...options });
  return Object.assign(s, { [Symbol.asyncDispose]: () => s.close({ drainMs: 0 }) });
}

Deno.test("call fast path: takes only the plain forms, and parses them as the full parser does", () => {
  const plain = [
    ["ping"],
    ["-s", "/x.sock", "ping"],
    ["--socket", "/x.sock", "--json", "stats", "--json"],
    ["--socket=/x.sock", "--timeout=5s", "--no-stdin", "echo", "a", "-b", "--c"],
    ["-t", "300ms", "--trust-owner", "root", "echo"],
    ["--socket=", "ping"],
  ];
  for (const argv of plain) {
    const fast = parsePlainCall(argv);
    const full = parseCallArgv(argv);
    assert(fast !== undefined && full !== undefined, `both parse ${argv.join(" ")}`);
    assertEquals([fast.command, fast.args], [full.command, full.args]);
    const o = full.options;
    const want = {
      socket: o.socket,
      json: o.json,
      timeout: o.timeout,
      stdin: o.stdin,
      trustOwner: o.trustOwner,
    };
    const got = fast.options;
    assertEquals(
      {
        socket: got.socket,
        json: got.json,
        timeout: got.timeout,
        stdin: got.stdin,
        trustOwner: got.trustOwner,
      },
      want,
      argv.join(" "),
    );
  }
  const others = [
    [],
    ["--json"],
    ["--help"],
    ["-h"],
    ["--", "ping"],
    ["-s/x.sock", "ping"],
    ["-s", "/a", "--socket", "/b", "ping"],
    ["--json", "--json", "ping"],
    ["--json=yes", "ping"],
    ["-s", "--json", "ping"],
    ["-s"],
    ["--interval", "1s", "ping"],
    ["-n", "2", "ping"],
    ["--host", "a", "ping"],
    ["--bogus", "ping"],
    ["-", "ping"],
  ];
  for (const argv of others) assertEquals(parsePlainCall(argv), undefined, argv.join(" "));
});

Deno.test("call fast path: loads no node: or npm module, and main.ts makes Deno read no other module graph", async () => {
  const graph = await moduleGraph("main.ts");
  const deps = graph.deps;
  const main = `file://${ROOT}main.ts`;
  // Deno reads the graph behind every import of main.ts before it starts, literal import() included:
  // only the fast path's, not the full CLI's (type-only imports are not loaded).
  assertEquals(
    deps.get(main)!.filter((d) => d.code).map((d) => [d.specifier, d.isDynamic === true]),
    [["./lib/cli/call_fast.ts", true]],
  );
  // Everything a plain call loads at run time: call_fast.ts and its static imports (not `import type`).
  const names = graph.staticFrom("lib/cli/call_fast.ts");
  assert(names.includes("lib/cli/_oneshot_client.ts"), names.join(", "));
  for (const name of names) {
    assert(!/^(node:|npm:|https?:)/.test(name), `the fast path loads ${name}`);
    assert(
      !["lib/client.ts", "lib/codec.ts", "lib/cli/main.ts"].includes(name),
      `the fast path loads ${name}`,
    );
  }
});

Deno.test("call fast path: prints and exits as the full CLI does", async (t) => {
  await using tmp = await tempDir();
  await using s = await server(`${tmp.dir}/s.sock`);
  await using readOnly = await server(`${tmp.dir}/read.sock`, { access: "read" });
  await using small = await server(`${tmp.dir}/small.sock`, { limits: { maxFrameBytes: 4096 } });
  await using busy = await server(`${tmp.dir}/busy.sock`, { limits: { maxCallsPerConnection: 0 } });

  await t.step("ok: text, bytes, no result, a number, structured values", async () => {
    assertEquals(await same(["-s", s.path, "ping"]), { code: 0, stdout: "pong\n", stderr: "" });
    for (const cmd of ["values", "bytes", "nothing", "number"]) {
      assertEquals((await same(["-s", s.path, cmd])).code, 0);
    }
  });

  await t.step("--json, for results and for errors", async () => {
    for (const cmd of ["values", "bytes", "nothing", "fail", "pnig"]) {
      await same(["-s", s.path, "--json", cmd]);
    }
    await same(["--json", "-s", s.path, "add", "1"]);
  });

  await t.step("streaming output", async () => {
    const r = await same(["-s", s.path, "stream"]);
    assertEquals(r.stdout, "line 1\nline 2\nline 3\nend of stream\n");
  });

  await t.step(
    "error statuses: 101, 105, 110 (with the misplaced-option hint), 104, 107, 108, 109",
    async () => {
      assertEquals((await same(["-s", s.path, "pnig"])).code, 2);
      assertEquals((await same(["-s", s.path, "fail"])).code, 1);
      assertEquals((await same(["-s", s.path, "add", "1", "2", "3"])).code, 2);
      assertEquals((await same(["-s", s.path, "add", "1", "--json"])).code, 2);
      assertEquals((await same(["-s", s.path, "--timeout", "200ms", "slow"])).code, 4);
      assertEquals((await same(["-s", readOnly.path, "danger"])).code, 5);
      assertEquals((await same(["-s", small.path, "echo", "x".repeat(10_000)], { stdin: "in" })).code, 6);
      assertEquals((await same(["-s", small.path, "--no-stdin", "echo", "x".repeat(10_000)])).code, 6);
      assertEquals((await same(["-s", busy.path, "ping"])).code, 6);
      assertEquals((await same(["-s", s.path, "--timeout", "soon", "ping"])).code, 2);
    },
  );

  await t.step("stdin goes to a command that takes input, and only to it", async () => {
    assertEquals((await same(["-s", s.path, "cat"], { stdin: "one\ntwo\n" })).stdout, "one\ntwo\n");
    assertEquals((await same(["-s", s.path, "--no-stdin", "cat"], { stdin: "x" })).stdout, "");
    assertEquals((await same(["-s", s.path, "ping"], { stdin: "x" })).stdout, "pong\n");
  });

  await t.step("bad sockets: none there, not a socket, a directory others may write to", async () => {
    assertEquals((await same(["-s", `${tmp.dir}/nobody.sock`, "ping"])).code, 3);
    assertEquals((await same(["--json", "-s", `${tmp.dir}/nobody.sock`, "ping"])).code, 3);
    assertEquals((await same(["-s", "/etc/passwd", "ping"])).code, 3);
    const open = `${tmp.dir}/open`;
    await Deno.mkdir(open, { mode: 0o700 });
    await using _o = await server(`${open}/o.sock`);
    await Deno.chmod(open, 0o777);
    const r = await same(["-s", `${open}/o.sock`, "ping"]);
    assertEquals(r.code, 3);
    assert(r.stderr.includes("writable by other users"), r.stderr);
  });

  await t.step("servers that do not greet: silent, not sockd, closing at once", async () => {
    const answers: Record<string, string | undefined> = {
      silent: undefined,
      http: "HTTP/1.1 400 Bad Request\r\n\r\n",
      refusing: "error 109: too many connections (limit 1)\n",
      closing: "",
    };
    const at = (name: string) => `server at ${tmp.dir}/${name}.sock`;
    const said: Record<string, [number, string]> = {
      silent: [Exit.TIMEOUT, `sockd: ${at("silent")} did not answer within 300 ms\n`],
      http: [
        Exit.CONNECTION,
        `sockd: ${at("http")} did not greet: it sent "HTTP/1.1 400 Bad Request"; is it a sockd socket?\n`,
      ],
      // A server refusing before it knows the dialect (over 128 refusals at once) answers a text line.
      refusing: [Exit.REFUSED, "sockd: too many connections (limit 1)\n"],
      closing: [Exit.CONNECTION, `sockd: ${at("closing")} closed the connection before greeting\n`],
    };
    for (const [name, answer] of Object.entries(answers)) {
      const path = `${tmp.dir}/${name}.sock`;
      const listener = Deno.listen({ transport: "unix", path });
      const conns: Deno.Conn[] = [];
      const served = (async () => {
        for await (const conn of listener) {
          conns.push(conn);
          if (answer !== undefined) {
            // After the client's first bytes, so that both paths meet the same server.
            await conn.read(new Uint8Array(8)).catch(() => {});
            await conn.write(new TextEncoder().encode(answer)).catch(() => {});
            conn.close();
          }
        }
      })();
      try {
        const r = await same(["-s", path, "--timeout", "300ms", "ping"]);
        assertEquals([r.code, r.stderr], said[name], name);
      } finally {
        listener.close();
        for (const c of conns) {
          try {
            c.close();
          } catch { /* closed */ }
        }
        await served.catch(() => {});
      }
    }
  });

  await t.step("a greeting that arrives in pieces: a hello, a refusal line, a hello too large", async () => {
    // Each fake server sends its first bytes in pieces, 30 ms apart (a relay may split them so).
    const pieces = async (conn: Deno.Conn, bytes: Uint8Array, cuts: number[]) => {
      let at = 0;
      for (const cut of [...cuts, bytes.length]) {
        await conn.write(bytes.subarray(at, cut));
        at = cut;
        await new Promise((r) => setTimeout(r, 30));
      }
    };
    // After the client's first bytes; then what it sends is read until it closes (no reset).
    const answer = async (conn: Deno.Conn, bytes: Uint8Array, cuts: number[]) => {
      const buf = new Uint8Array(64 * 1024);
      await conn.read(buf);
      await pieces(conn, bytes, cuts);
      while (await conn.read(buf) !== null);
    };
    const line = new TextEncoder().encode("error 109: too many connections (limit 1)\n");
    const fakes: Record<string, (conn: Deno.Conn) => Promise<void>> = {
      // A relay to the real server that splits its hello in three.
      relay: async (conn) => {
        const upstream = await Deno.connect({ transport: "unix", path: s.path });
        const up = conn.readable.pipeTo(upstream.writable).catch(() => {});
        const reader = upstream.readable.getReader();
        const first = await reader.read();
        await pieces(conn, first.value!, [2, 9]);
        reader.releaseLock();
        await upstream.readable.pipeTo(conn.writable).catch(() => {});
        await up;
      },
      refusal: (conn) => answer(conn, line, [8]),
      short: (conn) => answer(conn, line, [3]),
      // A frame of 70,000 bytes: sockd's hello is a few hundred.
      large: (conn) => answer(conn, new Uint8Array([0, 1, 0x11, 0x70, 0x86, 0xa4]), [2]),
    };
    const said: Record<string, [number, string]> = {
      relay: [Exit.OK, ""],
      refusal: [Exit.REFUSED, "sockd: too many connections (limit 1)\n"],
      short: [Exit.REFUSED, "sockd: too many connections (limit 1)\n"],
      large: [
        Exit.CONNECTION,
        `sockd: server at ${tmp.dir}/large.sock did not greet: its first frame is 70000 bytes, more than a hello's 65536\n`,
      ],
    };
    for (const [name, fake] of Object.entries(fakes)) {
      const path = `${tmp.dir}/${name}.sock`;
      const listener = Deno.listen({ transport: "unix", path });
      const served: Promise<void>[] = [];
      const accepting = (async () => {
        for await (const conn of listener) {
          served.push(
            fake(conn).catch(() => {}).finally(() => {
              try {
                conn.close();
              } catch { /* closed */ }
            }),
          );
        }
      })();
      try {
        const r = await same(["-s", path, "--timeout", "2s", "ping"]);
        assertEquals([r.code, r.stderr], said[name], name);
        if (name === "relay") assertEquals(r.stdout, "pong\n");
      } finally {
        listener.close();
        await accepting.catch(() => {});
        await Promise.all(served);
      }
    }
  });

  await t.step("the default socket: $SOCKD_SOCKET, then $XDG_RUNTIME_DIR", async () => {
    assertEquals((await same(["ping"], { env: { SOCKD_SOCKET: s.path } })).stdout, "pong\n");
    const runtime = `${tmp.dir}/runtime`;
    await Deno.mkdir(runtime, { mode: 0o700 });
    await using _r = await server(`${runtime}/sockd.sock`);
    const env = { XDG_RUNTIME_DIR: `${runtime}/`, SOCKD_SOCKET: "" };
    assertEquals((await same(["ping"], { env })).stdout, "pong\n");
  });
});

Deno.test("call fast path: an aborted call is cancelled on the server, which answers 106", async () => {
  await using tmp = await tempDir();
  await using s = await server(`${tmp.dir}/s.sock`);
  const client = await connectOneShot(s.path, { timeoutMs: 5000 });
  try {
    const abort = new AbortController();
    const call = client.call("slow", [], { signal: abort.signal });
    // Cancel once the call runs: a round trip on the same connection comes after it.
    assertEquals(await client.call("ping").result, "pong");
    const t0 = performance.now();
    abort.abort();
    const err = await call.result.then(() => undefined, (e) => e);
    assert(err instanceof SockdError, String(err));
    assertEquals([err.status, err.remote], [Status.CANCELLED, true]);
    assert(performance.now() - t0 < 4000, "the server stopped the 5 s command");
  } finally {
    client.close();
  }
});

Deno.test("call fast path: the preface and the first call reach the server in one write", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/raw.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const client = await connectOneShot(path, { timeoutMs: 5000 });
  const conn = await listener.accept();
  try {
    const call = client.call("ping");
    call.result.catch(() => {});
    // Whenever this read runs, the first write is there whole: one wake-up and one read for the server.
    const buf = new Uint8Array(4096);
    const n = (await conn.read(buf)) ?? 0;
    assertEquals([...buf.subarray(0, 8)], [0x00, 0x53, 0x4f, 0x43, 0x4b, 0x44, 0x00, 0x01]);
    const length = new DataView(buf.buffer, 8, 4).getUint32(0);
    assertEquals(n, 8 + 4 + length, `read ${n} bytes`);
    assert(new TextDecoder().decode(buf.subarray(12, n)).includes("ping"));
  } finally {
    client.close();
    conn.close();
    listener.close();
  }
});
