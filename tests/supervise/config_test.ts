import { loadSuperviseConfig, parseSuperviseConfig } from "../../lib/supervise/config.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { tempDir } from "../_helpers.ts";

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert(err instanceof TypeError, `Expected a TypeError, got ${err}`);
    return err.message;
  }
  throw new Error("Expected it to throw");
}

Deno.test("supervise config: defaults are filled in and cwd is resolved against the file", () => {
  const { processes, onShutdown } = parseSuperviseConfig(
    { processes: { web: { command: "node", args: ["s.js"], cwd: "app", env: { PORT: "8080" } } } },
    "/etc/sockd/sockd.json",
  );
  assertEquals(onShutdown, "stop");
  assertEquals(processes, [{
    name: "web",
    command: "node",
    args: ["s.js"],
    cwd: "/etc/sockd/app",
    env: { PORT: "8080" },
    autostart: true,
    restart: "always",
    backoffMs: 1000,
    backoffMaxMs: 30_000,
    minUptimeMs: 1000,
    maxRestarts: 5,
    stopSignal: "SIGTERM",
    stopTimeoutMs: 10_000,
    logBytes: 1 << 20,
  }]);
});

Deno.test("supervise config: mistakes name the file, the process and the field", async (t) => {
  const cases: [string, unknown, string][] = [
    ["not an object", [], "f.json: expected a JSON object"],
    ["unknown top-level key", { process: {} }, `f.json: unknown key "process" (use processes, onShutdown)`],
    ["bad onShutdown", { onShutdown: "kill" }, `f.json: onShutdown must be "stop" or "leave"`],
    ["bad name", { processes: { "a b": { command: "x" } } }, `process name "a b" is invalid`],
    ["no command", { processes: { a: {} } }, `f.json: process "a": "command" must be a non-empty string`],
    [
      "args not strings",
      { processes: { a: { command: "x", args: [1] } } },
      `"args" must be an array of strings`,
    ],
    ["typo in a key", { processes: { a: { command: "x", restrat: "never" } } }, `unknown key "restrat"`],
    [
      "bad restart",
      { processes: { a: { command: "x", restart: "sometimes" } } },
      `"restart" must be one of always, on-failure, never`,
    ],
    [
      "bad signal",
      { processes: { a: { command: "x", stopSignal: "TERM" } } },
      `"stopSignal" must be a signal name`,
    ],
    [
      "negative timeout",
      { processes: { a: { command: "x", stopTimeoutMs: -1 } } },
      `"stopTimeoutMs" must be an integer from 0`,
    ],
    [
      "tiny log",
      { processes: { a: { command: "x", logBytes: 10 } } },
      `"logBytes" must be an integer from 1024`,
    ],
    ["env with =", { processes: { a: { command: "x", env: { "A=B": "1" } } } }, `env "A=B" must be`],
    [
      "cap below start",
      { processes: { a: { command: "x", backoffMs: 500, backoffMaxMs: 100 } } },
      `"backoffMaxMs" must be at least`,
    ],
  ];
  for (const [what, value, expected] of cases) {
    await t.step(what, () => {
      const text = message(() => parseSuperviseConfig(value, "f.json"));
      assert(text.includes(expected), `${JSON.stringify(text)} should include ${JSON.stringify(expected)}`);
    });
  }
});

Deno.test("supervise config: a file that is not JSON is refused with its path", async () => {
  await using tmp = await tempDir();
  const file = `${tmp.dir}/sockd.json`;
  await Deno.writeTextFile(file, "{ processes: ");
  const err = await loadSuperviseConfig(file).then(() => undefined, (e) => e as Error);
  assert(err instanceof TypeError);
  assert(err.message.startsWith(`${file}: not valid JSON:`), err.message);
  assertThrows(() => parseSuperviseConfig(null, "x"), TypeError);
});
