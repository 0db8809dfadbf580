import type { Command } from "sockd";

/** An example streaming plugin: `count [--to N] [--every MS]` yields one line per tick. */
export default {
  name: "count",
  summary: "Count up, one line per tick (a streaming command)",
  access: "read",
  flags: {
    to: { type: "number", default: 5, description: "Last number" },
    every: { type: "number", default: 100, description: "Milliseconds between lines" },
  },
  async *run(ctx) {
    const to = Number(ctx.flags.to);
    for (let i = 1; i <= to; i++) {
      if (i > 1) await new Promise((r) => setTimeout(r, Number(ctx.flags.every)));
      if (ctx.signal.aborted) return;
      yield `${i}\n`;
    }
    return `counted to ${to}`;
  },
} satisfies Command;
