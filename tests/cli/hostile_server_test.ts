/**
 * Attacks the client side of `sockd call` the way tests/dialects/fuzz_test.ts
 * attacks the server: fake servers in this process answer with garbage
 * before the hello, after it, and as mutations of a real server's answers,
 * and both paths of the CLI (tests/cli/_call_paths.ts: the one-shot client
 * and lib/client.ts) must end cleanly every time: within `--timeout` and its
 * slack, with a documented exit code, only `sockd: ...` lines on stderr, and
 * when they exit 0, what a sane server would have made them print.
 *
 * SOCKD_HOSTILE_SEED sets the seed; a failure names it.
 */
import type { Command } from "../../lib/command.ts";
import { connect } from "../../lib/client.ts";
import { connectOneShot } from "../../lib/cli/_oneshot_client.ts";
import { encodeFrame, MSGPACK_PREFACE } from "../../lib/dialects/msgpack.ts";
import { SockdError, Status } from "../../lib/errors.ts";
import { Exit } from "../../lib/cli/exit_codes.ts";
import { serve } from "../../lib/server.ts";
import { assert, assertEquals } from "../assert.ts";
import { tempDir } from "../_helpers.ts";
import { FAST, FULL, run } from "./_call_paths.ts";
import { fakeServer, type Mutation, relay, send } from "./_fake_server.ts";
import { after, before, type Case, cat, framed, oneBitFrom, runAll } from "./_hostile_runner.ts";
import { prng } from "../_prng.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const SEED = Number(Deno.env.get("SOCKD_HOSTILE_SEED") ?? 0x05ed);
const rng = prng(SEED);

const BIG = new Uint8Array(40 * 1024).fill(0x61);
const COMMANDS: Command[] = [
  {
    name: "burst",
    summary: "A line, 40 KiB, a line, a result",
    async *run() {
      yield "line 1\n";
      yield BIG;
      yield "line 3\n";
      return "end";
    },
  },
];
/** What `burst` prints, chunk by chunk. */
const BURST = ["line 1\n", dec.decode(BIG), "line 3\n", "end\n"];

/** A real server's hello, read off a real socket after the msgpack preface. */
async function realHello(path: string): Promise<Uint8Array> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    await send(conn, MSGPACK_PREFACE);
    let got: Uint8Array<ArrayBuffer> = new Uint8Array(0);
    const buf = new Uint8Array(4096);
    while (got.length < 4 || got.length < 4 + new DataView(got.buffer).getUint32(0)) {
      const n = await conn.read(buf);
      assert(n !== null, "the real server greets");
      got = cat(got, buf.subarray(0, n));
    }
    return got.slice(0, 4 + new DataView(got.buffer).getUint32(0));
  } finally {
    conn.close();
  }
}

async function realServer(path: string) {
  const s = await serve({ path, commands: COMMANDS });
  return Object.assign(s, { [Symbol.asyncDispose]: () => s.close({ drainMs: 0 }) });
}

Deno.test("hostile server: closing at every byte offset of a real hello fails both clients with 103", async () => {
  await using tmp = await tempDir();
  await using real = await realServer(`${tmp.dir}/real.sock`);
  const hello = await realHello(real.path);
  const path = `${tmp.dir}/cut.sock`;
  let cut = 0;
  await using _fake = fakeServer(path, async (conn, client) => {
    const bytes = hello.subarray(0, cut);
    await client.until(0);
    await send(conn, bytes);
  });
  /** Pings once through a client `open` makes; the error it fails with, within 1.5 s. */
  const failure = async (
    open: () => Promise<{ call(c: string): { result: Promise<unknown> }; close(): void }>,
  ) => {
    const t0 = performance.now();
    const err = await (async () => {
      const client = await open();
      try {
        return await client.call("ping").result;
      } finally {
        client.close();
      }
    })().then(() => undefined, (e) => e);
    assert(performance.now() - t0 < 1500, `cut at ${cut}: took ${performance.now() - t0} ms`);
    assert(err instanceof SockdError, `cut at ${cut}: ${err}`);
    return err;
  };
  for (cut = 0; cut <= hello.length; cut++) {
    const want = cut < hello.length ? /closed the connection before greeting$/ : /closed the connection$/;
    const fast = await failure(() => connectOneShot(path, { timeoutMs: 2000 }));
    const full = await failure(() => connect(path, { timeoutMs: 2000 }));
    for (const err of [fast, full]) {
      assertEquals(err.status, Status.CONN_ERROR, `cut at ${cut}: ${err.message}`);
      assert(want.test(err.message), `cut at ${cut}: ${err.message}`);
    }
  }
});

Deno.test("hostile server: garbage before the hello", async () => {
  await using tmp = await tempDir();
  await using real = await realServer(`${tmp.dir}/real.sock`);
  const hello = await realHello(real.path);
  const cases: Case[] = [];
  // No hello, so no call can succeed: a connection error, or the deadline for the hello.
  const add = (name: string, bytes: Uint8Array, codes: number[] = [Exit.CONNECTION, Exit.TIMEOUT]) => {
    const open = rng.int(2) === 1;
    cases.push({ name: `${name}${open ? ", then open" : ""}`, answer: before(bytes, open), codes });
  };
  for (let i = 0; i < 8; i++) add(`random bytes #${i}`, rng.bytes(1 + rng.int(64)));
  for (let i = 0; i < 4; i++) {
    const line = Array.from({ length: 1 + rng.int(60) }, () => String.fromCharCode(0x20 + rng.int(0x5f)));
    add(`a text line #${i}`, enc.encode(`${line.join("")}\n`));
  }
  for (let i = 0; i < 6; i++) {
    const k = 1 + rng.int(hello.length - 1);
    add(`the hello's first ${k} bytes then garbage`, cat(hello.subarray(0, k), rng.bytes(1 + rng.int(32))));
  }
  for (const size of [0, 1, 3, 65536, 65537, 0x7fffffff, 0xffffffff]) {
    add(`a frame of ${size} bytes announced`, framed(rng.bytes(Math.min(size, 3)), size));
  }
  // A refusal line names its status; one that names 000 (OK) or no status of sockd's is still a failure.
  for (const status of ["000", "099"]) {
    add(`a refusal line of status ${status}`, enc.encode(`error ${status}: all good\n`), [Exit.CONNECTION]);
  }
  add("a refusal line of status 999", enc.encode("error 999: odd\n"), [Exit.FAILED]);
  // A frame that is not a map, or not msgpack: the server did not greet (103), whatever follows.
  for (
    const [name, body] of [["nil", [0xc0]], ["a cut map", [0x81]], ["two values", [0x80, 0x80]]] as const
  ) {
    cases.push({
      name: `a first frame of ${name}`,
      answer: before(framed(new Uint8Array(body)), rng.int(2) === 1),
      codes: [Exit.CONNECTION],
      said: /^sockd: server at \S+ did not greet: .+\n$/,
    });
  }
  for (let i = 0; i < 6; i++) {
    const k = rng.int(hello.length);
    add(`the hello cut at ${k}`, hello.subarray(0, k));
  }
  await runAll(tmp.dir, cases, SEED);
});

Deno.test("hostile server: a real hello, then garbage", async () => {
  await using tmp = await tempDir();
  await using real = await realServer(`${tmp.dir}/real.sock`);
  const hello = await realHello(real.path);
  const frame = (m: Record<string, unknown>) => encodeFrame(m);
  const pong = frame({ type: "end", id: 1, status: 0, result: "pong" });
  const cases: Case[] = [];
  const add = (name: string, bytes: Uint8Array, codes: number[], ok?: Case["ok"], said?: RegExp) => {
    const open = rng.int(2) === 1;
    // A third of the cases that cannot succeed run with --json: the error is a JSON line on stdout too.
    const json = ok === undefined && rng.int(3) === 0;
    cases.push({
      name: `${name}${open ? ", then open" : ""}${json ? ", --json" : ""}`,
      args: json ? ["--json", "--no-stdin", "ping"] : undefined,
      answer: after(hello, bytes, open),
      codes,
      ok,
      said,
    });
  };
  // Nothing at all after the hello: the call's deadline, and its slack.
  for (const args of [undefined, ["--json", "--no-stdin", "ping"]]) {
    cases.push({
      name: "silence",
      args,
      answer: after(hello, new Uint8Array(0), true),
      codes: [Exit.TIMEOUT],
    });
  }
  // The call is never ended: closed (103), or its deadline (104).
  const unended = [Exit.CONNECTION, Exit.TIMEOUT];
  add("an end without id", frame({ type: "end", status: 0 }), [Exit.REFUSED]);
  add("an end without id, 109", frame({ type: "end", status: 109, error: "Busy" }), [Exit.REFUSED]);
  for (const id of ["1", 1.5, -1, 2 ** 40, 2 ** 53 + 2, [1], { id: 1 }, true, 0]) {
    add(`an end with id ${JSON.stringify(id)}`, frame({ type: "end", id, status: 0, result: "x" }), unended);
  }
  add('an end with status "0"', frame({ type: "end", id: 1, status: "0" }), [Exit.REFUSED]);
  add("an end with status 999", frame({ type: "end", id: 1, status: 999, error: "odd" }), [Exit.FAILED]);
  add(
    "an end whose error has lines and escapes",
    frame({ type: "end", id: 1, status: 105, error: "Bad\nerror: x\n    at f\r\x1b[2J\x07" }),
    [Exit.FAILED],
    undefined,
    /^sockd: bad\\nerror: x\\n {4}at f\\r\\x1b\[2J\\x07\n$/,
  );
  // Values nested past what JSON output takes (64 levels), and odd errors: a value sockd call cannot
  // print fails the call (103), odd details are printed (--json) or left out, an error is the call's (105).
  const nest = (n: number): unknown => n === 0 ? 1 : [nest(n - 1)];
  const deep = nest(100);
  const failed = (
    details: unknown,
    error: unknown = "x",
  ) => [{ type: "end", id: 1, status: 105, error, details }];
  const odd: [string, Record<string, unknown>[], number, RegExp?][] = [
    [
      "a deep result",
      [{ type: "end", id: 1, status: 0, result: deep }],
      Exit.CONNECTION,
      /nested too deeply/,
    ],
    [
      "a deep chunk",
      [{ type: "data", id: 1, chunk: deep }, { type: "end", id: 1, status: 0 }],
      Exit.CONNECTION,
      /nested too deeply/,
    ],
    ["an error with deep details", failed({ deep }), Exit.FAILED, /^sockd: x\n$/],
    ["an error with details not a map", failed(5), Exit.FAILED, /^sockd: x\n$/],
    ["an error that is a map", failed(undefined, { a: 1 }), Exit.FAILED, /^sockd: call failed\n$/],
  ];
  for (const args of [["--no-stdin", "ping"], ["--json", "--no-stdin", "ping"]]) {
    for (const [name, msgs, code, said] of odd) {
      const answer = after(hello, cat(...msgs.map((m) => frame(m))), rng.int(2) === 1);
      cases.push({
        name: `${name}${args[0] === "--json" ? ", --json" : ""}`,
        args,
        answer,
        codes: [code],
        said,
      });
    }
  }
  const isPong = (out: string) => out === "pong\n";
  add(
    "data for an unknown id, then the end",
    cat(frame({ type: "data", id: 7, chunk: BIG }), pong),
    [],
    isPong,
  );
  add("an unknown frame type, then the end", cat(frame({ type: "hello", id: 1 }), pong), [], isPong);
  for (const chunk of [5, null, true, { a: [1] }, [1, 2]]) {
    add(
      `a data chunk ${JSON.stringify(chunk)}, then the end`,
      cat(frame({ type: "data", id: 1, chunk }), pong),
      [Exit.CONNECTION, Exit.REFUSED],
      (out) => out.endsWith("pong\n") && out.length > 5,
    );
  }
  add(
    "a data frame without a chunk, then the end",
    cat(frame({ type: "data", id: 1, chunj: BIG }), pong),
    [Exit.REFUSED],
    undefined,
    /^sockd: bad data from server: a data frame without a chunk\n$/,
  );
  const nested = (n: number) => framed(cat(new Uint8Array(n).fill(0x91), new Uint8Array([0xc0])));
  for (const depth of [1000, 100_000]) {
    add(`an array nested ${depth} deep, then the end`, cat(nested(depth), pong), [
      Exit.CONNECTION,
      Exit.REFUSED,
    ]);
  }
  const keys = (size: number[]) =>
    cat(
      new Uint8Array([
        0x83,
        0xa4,
        ...enc.encode("type"),
        0xa4,
        ...enc.encode("data"),
        0xa2,
        ...enc.encode("id"),
        1,
      ]),
      new Uint8Array([0xa5, ...enc.encode("chunk"), ...size]),
    );
  add("a frame of 16 MiB + 1", framed(new Uint8Array(8), 16 * 1024 * 1024 + 1), [Exit.REFUSED]);
  add("a bin longer than its frame", cat(framed(cat(keys([0xc4, 200]), rng.bytes(10))), pong), [
    Exit.REFUSED,
  ]);
  add("a bin shorter than its frame", cat(framed(cat(keys([0xc4, 5]), rng.bytes(10))), pong), [
    Exit.REFUSED,
  ]);
  add("a bin of 4 GiB", cat(framed(cat(keys([0xc6, 0xff, 0xff, 0xff, 0xff]), rng.bytes(10))), pong), [
    Exit.REFUSED,
  ]);
  // A large chunk's frame, of which only the start arrives: read straight into the reader's buffer.
  add(
    "40 KiB announced, 100 bytes sent",
    framed(cat(keys([0xc5, 0x9c, 0x40 - 0x10]), rng.bytes(100)), 40_000 + 11),
    unended,
  );
  for (let i = 0; i < 8; i++) {
    add(`a random body #${i}`, framed(rng.bytes(1 + rng.int(40))), [1, 2, 3, 4, 5, 6]);
  }
  await runAll(tmp.dir, cases, SEED);
});

Deno.test("hostile server: a real server's answers, one bit flipped or cut short", async () => {
  await using tmp = await tempDir();
  await using real = await realServer(`${tmp.dir}/real.sock`);
  const cases: Case[] = [];
  for (const [command, chunks] of [["ping", ["pong\n"]], ["burst", BURST]] as const) {
    const want = chunks.join("");
    // The real answer through a faithful relay: what both paths print, and the bytes a mutation changes.
    let answer: Uint8Array = new Uint8Array(0);
    const path = `${tmp.dir}/${command}.sock`;
    {
      await using _relay = fakeServer(
        path,
        async (conn) => void (answer = await relay(conn, real.path, undefined)),
      );
      for (const entry of [FAST, FULL]) {
        const r = await run(entry, ["-s", path, "--timeout", "5s", command]);
        assertEquals([r.code, dec.decode(r.stdout), r.stderr], [0, want, ""], `${command} through the relay`);
      }
    }
    // Where the bytes of `burst`'s 40 KiB lie: most flips go elsewhere, into the frames' structure.
    const big = dec.decode(answer).indexOf(dec.decode(BIG.subarray(0, 256)));
    const offset = () => {
      if (big < 0 || rng.int(4) === 0) return rng.int(answer.length);
      const at = rng.int(answer.length - BIG.length + 8);
      return at < big + 4 ? at : at + BIG.length - 8;
    };
    const mutated = (mutation: Mutation): Case["answer"] => async (conn) =>
      void await relay(conn, real.path, mutation);
    // With a bit flipped, a call may still succeed: with that bit of its output flipped, or a chunk
    // lost (its id or type no longer the call's), or untouched (the flip was in another call's answer).
    const sane = (out: string, bytes: Uint8Array) =>
      oneBitFrom(bytes, enc.encode(want)) ||
      chunks.some((_, i) => out === chunks.filter((_, j) => j !== i).join(""));
    for (let i = 0; i < 10; i++) {
      const flip = offset();
      cases.push({
        name: `${command}, bit flipped at byte ${flip} of ${answer.length}`,
        args: [command],
        answer: mutated({ flip, bit: rng.int(8) }),
        codes: [1, 2, 3, 4, 5, 6],
        ok: sane,
      });
    }
    // Cut short: the call's end never arrives (103), unless the cut falls in the `help` call's answer after it.
    for (let i = 0; i < 6; i++) {
      const cut = i === 0 ? answer.length - 1 : offset();
      cases.push({
        name: `${command}, cut at byte ${cut} of ${answer.length}`,
        args: [command],
        answer: mutated({ cut }),
        codes: [Exit.CONNECTION],
        ok: (out) => out === want,
      });
    }
  }
  await runAll(tmp.dir, cases, SEED);
});
