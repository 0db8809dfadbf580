import type { Command } from "../lib/command.ts";

/**
 * `shutdown [--drain MS]`: stop accepting, let calls finish, close. What
 * `sockd serve --takeover` asks of the server it replaces.
 */
export default {
  name: "shutdown",
  summary: "Stop accepting connections, let calls finish, and stop the server",
  access: "admin",
  args: [],
  flags: {
    drain: {
      type: "number",
      description: "Milliseconds calls may take to finish (default: the server's drain limit)",
    },
  },
  run(ctx) {
    if (!ctx.server.shutdown) throw new Error("This server cannot be shut down from its socket");
    const drain = ctx.flags.drain as number | undefined;
    // After this answer is sent: the caller sees "stopping", then the server closes.
    setTimeout(() => ctx.server.shutdown!(drain), 0);
    return "stopping";
  },
} satisfies Command;
