import { quote, tokenize } from "../../lib/dialects/_tokenize.ts";
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
