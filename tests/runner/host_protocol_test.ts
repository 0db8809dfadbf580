/**
 * The server's side of the host protocol: every message a host may send is
 * checked before the server acts on it, and what fails says why.
 */
import { parseHostMessage } from "../../lib/runner/host_protocol.ts";
import { assertEquals, assertThrows } from "../assert.ts";

function refused(msg: unknown): string {
  try {
    parseHostMessage(msg);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(msg)}`);
}

Deno.test("host protocol: well-formed messages come back typed and trimmed to what is known", () => {
  const loaded = parseHostMessage({
    t: "loaded",
    commands: [{
      name: "greet",
      summary: "Greet",
      args: [{ name: "who", optional: true }],
      flags: { shout: { type: "boolean", short: "s" } },
      access: "read",
      timeout: 500,
    }],
  });
  assertEquals(loaded, {
    t: "loaded",
    commands: [{
      name: "greet",
      summary: "Greet",
      args: [{ name: "who", optional: true }],
      flags: { shout: { type: "boolean", short: "s" } },
      access: "read",
      timeout: 500,
    }],
  });
  assertEquals(parseHostMessage({ t: "end", id: 3, ok: true, result: [1, "a"] }), {
    t: "end",
    id: 3,
    ok: true,
    result: [1, "a"],
  });
  assertEquals(parseHostMessage({ t: "log", level: "info", msg: "x".repeat(10_000) }).t, "log");
  assertEquals(
    (parseHostMessage({ t: "log", level: "info", msg: "x".repeat(10_000) }) as { msg: string }).msg.length,
    8192,
  );
});

Deno.test("host protocol: nil stands for an absent optional field (msgpack has no undefined)", () => {
  assertEquals(parseHostMessage({ t: "log", level: "info", msg: "x", id: null, fields: null }), {
    t: "log",
    level: "info",
    msg: "x",
  });
  assertEquals(
    parseHostMessage({ t: "loaded", commands: [{ name: "a", summary: "x", description: null, args: null }] }),
    { t: "loaded", commands: [{ name: "a", summary: "x" }] },
  );
  assertEquals(
    parseHostMessage({ t: "end", id: 1, ok: false, error: { name: "E", message: "m", status: null } }),
    {
      t: "end",
      id: 1,
      ok: false,
      error: { name: "E", message: "m" },
    },
  );
});

Deno.test("host protocol: forged or malformed messages are refused with the reason", () => {
  const cases: [unknown, string][] = [
    [null, "a message must be a map"],
    [[1, 2], "a message must be a map"],
    [{ t: "nope" }, 'unknown message type "nope"'],
    [
      { t: "loaded", commands: [{ name: "evil", summary: "f", args: [{}] }] },
      "commands[0].args[0].name must be a string",
    ],
    [{ t: "loaded", commands: [] }, "loaded.commands must be an array of 1 to 256 commands"],
    [
      { t: "loaded", commands: [{ name: "Bad Name", summary: "x" }] },
      'commands[0].name "Bad Name" is not a command name',
    ],
    [
      { t: "loaded", commands: [{ name: "a", summary: "x", access: "root" }] },
      "commands[0].access is not an access level",
    ],
    [
      { t: "loaded", commands: [{ name: "a", summary: "x", run: "code" }] },
      'commands[0]: unexpected key "run"',
    ],
    [
      { t: "loaded", commands: [{ name: "a", summary: "x", flags: { f: { type: "date" } } }] },
      "commands[0].flags.f.type is not a flag type",
    ],
    [
      { t: "loaded", commands: [{ name: "a", summary: "x".repeat(2000) }] },
      "commands[0].summary is longer than 1024 characters",
    ],
    [
      { t: "loaded", commands: [{ name: "a", summary: "x", timeout: Infinity }] },
      "commands[0].timeout must be a number of ms >= 0",
    ],
    [{ t: "end", id: -1, ok: true }, "end: id must be a positive integer"],
    [{ t: "end", id: 1.5, ok: true }, "end: id must be a positive integer"],
    [{ t: "end", id: 1, ok: "yes" }, "end.ok must be a boolean"],
    [{ t: "end", id: 1, ok: false, error: "x" }, "end.error must be an error object"],
    [{ t: "log", level: "fatal", msg: "x" }, "log.level is not a log level"],
    [{ t: "log", level: "info", msg: "x", fields: [1] }, "log.fields must be a map"],
    [{ t: "state", op: { op: "set", key: 1 } }, "state.op.key must be a string"],
    [{ t: "state", op: { op: "set", key: "k".repeat(2000) } }, "state.op.key is longer than 1024 characters"],
    [{ t: "chunk", id: 1 }, "chunk.chunk is missing"],
  ];
  for (const [msg, why] of cases) assertEquals(refused(msg), why, JSON.stringify(msg).slice(0, 80));
  assertThrows(() => parseHostMessage({ t: "pong", n: "1" }));
});
