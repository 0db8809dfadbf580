/**
 * lib/_name_order.ts sorts command names as `localeCompare` did (which it
 * replaces to keep ICU out of the server's memory), and falls back to it
 * for anything that is not a command name.
 */
import { compareNames } from "../lib/_name_order.ts";
import { assertEquals } from "./assert.ts";

const NAME_CHARS = "-._:0123456789abcdefghijklmnopqrstuvwxyz";

/** A deterministic stream of numbers in [0, 1). */
function random(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
}

function name(next: () => number, length: number): string {
  // A name starts with a letter or digit.
  let s = NAME_CHARS[4 + Math.floor(next() * 36)]!;
  for (let i = 1; i < length; i++) s += NAME_CHARS[Math.floor(next() * NAME_CHARS.length)]!;
  return s;
}

Deno.test("name order: the order localeCompare gives command names", () => {
  const next = random(7);
  for (let i = 0; i < 50_000; i++) {
    const a = name(next, 1 + Math.floor(next() * 6));
    // Half of the pairs share a prefix, where the order is decided late or by length.
    const b = next() < 0.5
      ? a.slice(0, Math.floor(next() * a.length)) +
        name(next, 1 + Math.floor(next() * 3)).slice(next() < 0.5 ? 1 : 0)
      : name(next, 1 + Math.floor(next() * 6));
    assertEquals(Math.sign(compareNames(a, b)), Math.sign(a.localeCompare(b)), `${a} against ${b}`);
  }
  const names = [
    "log-level",
    "logs",
    "log_level",
    "log:level",
    "log.level",
    "log1",
    "log",
    "a-b",
    "ab",
    "a_b",
    "9",
  ];
  assertEquals([...names].sort(compareNames), [...names].sort((a, b) => a.localeCompare(b)));
});

Deno.test("name order: anything else is ordered by localeCompare", () => {
  for (const [a, b] of [["Zeta", "alpha"], ["é", "f"], ["a b", "a-b"], ["ab", "a€"], ["", "a"], ["a", "A"]]) {
    assertEquals(Math.sign(compareNames(a!, b!)), Math.sign(a!.localeCompare(b!)), `${a} against ${b}`);
  }
});
