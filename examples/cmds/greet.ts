import type { Command } from "sockd";

/** An example plugin: `greet [NAME] [--shout]`. */
export default {
  name: "greet",
  summary: "Greet someone",
  access: "read",
  args: [{ name: "name", optional: true, description: "Who to greet" }],
  flags: { shout: { type: "boolean", short: "s", description: "Greet loudly" } },
  run(ctx) {
    const text = `hello, ${ctx.args[0] ?? "world"}`;
    return ctx.flags.shout ? text.toUpperCase() + "!" : text;
  },
} satisfies Command;
