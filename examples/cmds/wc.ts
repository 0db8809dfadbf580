import type { Command } from "sockd";

/** An example plugin that reads its input: `printf 'a b\nc\n' | sockd call wc` answers lines, words and bytes. */
export default {
  name: "wc",
  summary: "Count the lines, words and bytes of the input",
  access: "read",
  args: [],
  input: true,
  async run(ctx) {
    let bytes = 0, lines = 0, words = 0, inWord = false;
    for await (const chunk of ctx.input) {
      bytes += chunk.length;
      for (const b of chunk) {
        if (b === 0x0a) lines++;
        const space = b === 0x20 || (b >= 0x09 && b <= 0x0d);
        if (!space && !inWord) words++;
        inWord = !space;
      }
    }
    return { lines, words, bytes };
  },
} satisfies Command;
