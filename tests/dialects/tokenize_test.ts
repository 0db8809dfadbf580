import { quote, tokenize, tokenizeCommands } from "../../lib/dialects/_tokenize.ts";
import { SockdError, Status } from "../../lib/errors.ts";
import { assertEquals, assertStatus, assertThrows } from "../assert.ts";

Deno.test("tokenizer: splits words the way a shell user expects", async (t) => {
  const cases: [string, string[]][] = [
    ["ping", ["ping"]],
    ["  echo   a\tb  ", ["echo", "a", "b"]],
    [`echo "a b" 'c'`, ["echo", "a b", "c"]],
    [`echo a"b c"d`, ["echo", "ab cd"]],
    [`echo '' ""`, ["echo", "", ""]],
    [`echo 'it'\\''s'`, ["echo", "it's"]],
    [`echo a\\ b`, ["echo", "a b"]],
    [`echo \\"quoted\\"`, ["echo", `"quoted"`]],
    [`echo "say \\"hi\\" \\\\ \\$HOME \\n"`, ["echo", `say "hi" \\ $HOME \\n`]],
    [`echo 'no \\escapes "here"'`, ["echo", `no \\escapes "here"`]],
    ["", []],
    ["   \t ", []],
    ["echo héllo ✓ 日本", ["echo", "héllo", "✓", "日本"]],
  ];
  for (const [line, words] of cases) {
    await t.step(JSON.stringify(line), () => assertEquals(tokenize(line), words));
  }
});

Deno.test("tokenizer: expands nothing (no variables, globs, operators or comments)", () => {
  assertEquals(tokenize("echo $HOME * a|b c;d && e > f #g `h` ~"), [
    "echo",
    "$HOME",
    "*",
    "a|b",
    "c;d",
    "&&",
    "e",
    ">",
    "f",
    "#g",
    "`h`",
    "~",
  ]);
});

Deno.test("tokenizer: bad quoting is BAD_REQUEST (102) with a message that says where", async (t) => {
  const cases: [string, RegExp][] = [
    [`echo "abc`, /^Unterminated double quote \(opened at column 6\)$/],
    [`echo 'abc`, /^Unterminated single quote \(opened at column 6\)$/],
    [`echo "a\\"`, /^Unterminated double quote/],
    ["echo abc\\", /^Line ends with a backslash/],
  ];
  for (const [line, message] of cases) {
    await t.step(JSON.stringify(line), () => {
      assertStatus(assertThrows(() => tokenize(line), SockdError, message), Status.BAD_REQUEST);
    });
  }
});

Deno.test("tokenizer: quote() round-trips any word", () => {
  const words = [
    "plain",
    "",
    "a b",
    "it's",
    `"dq"`,
    "back\\slash",
    "$x",
    "tab\there",
    "new\nline",
    "✓",
    "-n",
  ];
  assertEquals(tokenize(words.map(quote).join(" ")), words);
  assertEquals(quote("plain-word_1.txt"), "plain-word_1.txt");
  assertEquals(quote("a b"), "'a b'");
});

Deno.test("tokenizer: a line without quotes, backslashes or ';' gives the words the full tokenizer gives", () => {
  // Generated lines of plain characters (ASCII, non-ASCII, '#', '-'), spaces and tabs; then the same lines
  // with a quote, a backslash or a ';' put in, which take the full tokenizer.
  let seed = 0x7e57;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const pieces = ["a", "ping", "é", "#", "-v", "x=1", "\u0000", "😀", " ", " ", "  ", "\t"];
  for (let i = 0; i < 2000; i++) {
    const line = Array.from({ length: rand(8) }, () => pieces[rand(pieces.length)]).join("");
    const words = tokenize(line);
    assertEquals(words, line.split(/[ \t]+/).filter((w) => w !== ""), JSON.stringify(line));
    assertEquals(tokenizeCommands(line), words.length > 0 ? [words] : [], JSON.stringify(line));
    const at = rand(line.length + 1);
    const special = line.slice(0, at) + ["'x'", '"y"', "\\ ", ";"][rand(4)] + line.slice(at);
    const parts = special.split(";").map((part) => tokenize(part)).filter((w) => w.length > 0);
    assertEquals(tokenizeCommands(special), parts, JSON.stringify(special));
  }
});
