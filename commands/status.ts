import type { Command } from "../lib/command.ts";

/** `status`: version, listeners, limits, plugins loaded and failed loads. */
export default {
  name: "status",
  summary: "Version, sockets, limits, and plugins loaded or failed",
  access: "read",
  args: [],
  run(ctx) {
    if (!ctx.server.status) throw new Error("This server reports no status");
    return ctx.server.status();
  },
} satisfies Command;
