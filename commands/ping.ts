import type { Command } from "../lib/command.ts";

/** `ping`: answers `pong`; the cheapest call, for health checks. */
export default {
  name: "ping",
  summary: "Answer pong (health check)",
  access: "read",
  args: [],
  run: () => "pong",
} satisfies Command;
