import type { Command } from "../lib/command.ts";

/**
 * `upgrade`: start a successor process (the same executable, or a newer one
 * at the same path) and hand it the sockets and the plugin state; answers
 * once it serves, or 105 with the reason while this server goes on serving.
 * What SIGUSR2 does too. A server has it when `sockd serve` runs it.
 */
export default {
  name: "upgrade",
  summary:
    "Replace this server with a new process of the same executable, keeping its sockets and plugin state",
  access: "admin",
  async run(ctx) {
    if (!ctx.server.upgrade) throw new Error("This server cannot upgrade itself");
    return await ctx.server.upgrade();
  },
} satisfies Command;
