import type { Command } from "sockd";

/** Edit this and save the file: a running `sockd call ticker` carries on with the new version. */
const LABEL = "tick";

/**
 * `ticker [--every MS]`: a persistent stream, one line per tick, until the
 * client cancels. When this file is reloaded the stream goes on from the new
 * version; the client sees one `{"$reloaded": "ticker.ts"}` chunk in between.
 */
export default {
  name: "ticker",
  summary: "Stream a line per tick until cancelled (persistent: survives reloads)",
  access: "read",
  persistent: true,
  flags: { every: { type: "number", default: 1000, description: "Milliseconds between lines" } },
  async *run(ctx) {
    while (!ctx.signal.aborted) {
      yield `${LABEL} ${new Date().toISOString().slice(11, 19)}\n`;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Number(ctx.flags.every));
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(t);
          resolve();
        }, { once: true });
      });
    }
  },
} satisfies Command;
