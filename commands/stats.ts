import type { Command } from "../lib/command.ts";

/** `stats`: uptime, connections by dialect and listener, calls and errors, p50/p99 per command. */
export default {
  name: "stats",
  summary: "Uptime, connections, calls, errors and latency per command",
  access: "read",
  args: [],
  run(ctx) {
    if (!ctx.server.stats) throw new Error("This server keeps no statistics");
    return ctx.server.stats();
  },
} satisfies Command;
