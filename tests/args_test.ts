import { parseCallArgs } from "../lib/args.ts";
import type { Command } from "../lib/command.ts";
import { Status } from "../lib/errors.ts";
import { assertEquals, assertStatus } from "./assert.ts";

const tail: Command = {
  name: "tail",
  summary: "Follow a file",
  args: [{ name: "file" }, { name: "more", optional: true }],
  flags: {
    lines: { type: "number", short: "n", default: 10 },
    follow: { type: "boolean", short: "f" },
    format: { type: "string" },
  },
  run: () => {},
};

function badArgs(words: string[]): unknown {
  try {
    parseCallArgs(tail, words);
  } catch (err) {
    return err;
  }
  throw new Error(`Expected ${JSON.stringify(words)} to be refused`);
}

Deno.test("args: flags in long, short and = forms, with defaults", () => {
  assertEquals(parseCallArgs(tail, ["x.log"]), {
    args: ["x.log"],
    flags: { lines: 10, follow: undefined, format: undefined },
  });
  assertEquals(parseCallArgs(tail, ["-n", "5", "-f", "--format=json", "x.log", "y"]), {
    args: ["x.log", "y"],
    flags: { lines: 5, follow: true, format: "json" },
  });
});

Deno.test("args: -- ends flags so a word may start with a dash", () => {
  assertEquals(parseCallArgs(tail, ["--", "-weird-name"]).args, ["-weird-name"]);
});

Deno.test("args: usage errors answer 110 with the usage line", async (t) => {
  for (
    const [words, why] of [
      [[], "Missing argument FILE"],
      [["a", "b", "c"], 'Unexpected argument "c"'],
      [["--nope", "a"], "Unknown option '--nope'"],
      [["-n", "many", "a"], '--lines needs a number, got "many"'],
    ] as const
  ) {
    await t.step(why, () => {
      const err = badArgs([...words]);
      assertStatus(err, Status.BAD_ARGS);
      const e = err as { message: string; details: { usage: string } };
      assertEquals(e.message.startsWith(why), true, e.message);
      assertEquals(e.details.usage, "tail [--lines N] [--follow] [--format VALUE] FILE [MORE]");
    });
  }
});

Deno.test("args: words without dashes skip the option parser and still get the flag defaults", () => {
  assertEquals(parseCallArgs(tail, ["x.log", "-"]), {
    args: ["x.log", "-"],
    flags: { lines: 10, follow: undefined, format: undefined },
  });
  const none: Command = { name: "none", summary: "x", args: [], run: () => {} };
  assertEquals(parseCallArgs(none, []), { args: [], flags: {} });
  assertStatus(badArgsOf(none, ["extra"]), Status.BAD_ARGS);
});

Deno.test("args: a command that declares no args gets its words as they are; declared flags are still checked", () => {
  const bare: Command = { name: "bare", summary: "x", run: () => {} };
  assertEquals(parseCallArgs(bare, ["world", "--loud", "-x"]), {
    args: ["world", "--loud", "-x"],
    flags: {},
  });
  const flagged: Command = { name: "flagged", summary: "x", flags: { n: { type: "number" } }, run: () => {} };
  assertEquals(parseCallArgs(flagged, ["a", "--n", "2", "b"]), { args: ["a", "b"], flags: { n: 2 } });
  assertStatus(badArgsOf(flagged, ["--n", "many"]), Status.BAD_ARGS);
  assertStatus(badArgsOf(flagged, ["--loud"]), Status.BAD_ARGS);
});

function badArgsOf(cmd: Command, words: string[]): unknown {
  try {
    parseCallArgs(cmd, words);
  } catch (err) {
    return err;
  }
  throw new Error(`Expected ${JSON.stringify(words)} to be refused`);
}

Deno.test("args: a mistyped flag gets did you mean, naming the declared flag", () => {
  const greet: Command = {
    name: "greet",
    summary: "x",
    args: [],
    flags: { shout: { type: "boolean" }, lines: { type: "number" } },
    run: () => {},
  };
  const err = badArgsOf(greet, ["--shuot"]) as Error;
  assertEquals(
    err.message,
    "Unknown option '--shuot' (did you mean --shout?) (usage: greet [--shout] [--lines N])",
  );
  assertEquals((badArgsOf(greet, ["--zzzzzz"]) as Error).message.includes("did you mean"), false);
});
