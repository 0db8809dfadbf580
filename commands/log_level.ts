import type { Command } from "../lib/command.ts";

/** `log-level [LEVEL]`: show or change the server's log level at run time. */
export default {
  name: "log-level",
  summary: "Show the log level, or change it (debug, info, warn, error)",
  access: "operate",
  args: [{ name: "level", optional: true, description: "debug, info, warn or error" }],
  run(ctx) {
    if (!ctx.server.logLevel) throw new Error("This server's log level cannot be changed");
    return ctx.server.logLevel(ctx.args[0]);
  },
} satisfies Command;
