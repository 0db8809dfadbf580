/**
 * The word under the cursor, for completion. The REPL splits a line into
 * words with the text dialect's own tokenizer (`lib/dialects/_tokenize.ts`),
 * so a line typed at `sockd repl` means what it means over `nc -U`; this
 * file only finds word boundaries the same way.
 *
 * @module
 */

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
