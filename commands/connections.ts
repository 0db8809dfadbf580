import type { Command } from "../lib/command.ts";

/** `connections`: who is connected, on which socket, since when, running how many calls. */
export default {
  name: "connections",
  summary: "List open connections: socket, dialect, since when, calls running",
  access: "operate",
  args: [],
  run(ctx) {
    if (!ctx.server.connections) throw new Error("This server does not list its connections");
    return ctx.server.connections();
  },
} satisfies Command;
