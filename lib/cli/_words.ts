/**
 * Splits a line typed in the REPL into words, the way a shell does for the
 * simple cases: blanks separate words, `'single'` quotes are literal,
 * `"double"` quotes allow `\"` and `\\`, and a backslash outside quotes
 * escapes the next character.
 *
 * @module
 */

/** The words of `line`, or throws an `Error` whose message says what is wrong. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === "\\" && (line[i + 1] === '"' || line[i + 1] === "\\")) word += line[++i];
      else word += c;
      continue;
    }
    if (c === " " || c === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "'" || c === '"') {
      quote = c;
    } else if (c === "\\") {
      if (i + 1 >= line.length) throw new Error("Trailing backslash (escape it as \\\\)");
      word += line[++i];
    } else {
      word += c;
    }
  }
  if (quote) throw new Error(`Unterminated ${quote === "'" ? "single" : "double"} quote`);
  if (inWord) words.push(word);
  return words;
}

/**
 * Where the word under the cursor starts (a UTF-16 index into `line`), and
 * whether it is quoted; used by completion, which completes bare words only.
 */
export function currentWord(line: string, cursor: number): { start: number; index: number; quoted: boolean } {
  let start = 0;
  let index = 0;
  let inWord = false;
  let quote: string | undefined;
  let quoted = false;
  for (let i = 0; i < cursor; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (quote === '"' && c === "\\") i++;
      continue;
    }
    if (c === " " || c === "\t") {
      if (inWord) index++;
      inWord = false;
      continue;
    }
    if (!inWord) {
      start = i;
      quoted = false;
      inWord = true;
    }
    if (c === "'" || c === '"') {
      quote = c;
      quoted = true;
    } else if (c === "\\") {
      i++;
      quoted = true;
    }
  }
  if (!inWord) {
    start = cursor;
    quoted = false;
  }
  return { start, index, quoted: quoted || quote !== undefined };
}
