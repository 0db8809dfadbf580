import type { Command } from "../lib/command.ts";

/** `echo WORDS...`: answers its arguments joined by spaces. */
export default {
  name: "echo",
  summary: "Answer the arguments, joined by spaces",
  access: "read",
  args: [{ name: "words", variadic: true, description: "Words to send back" }],
  run: (ctx) => ctx.args.join(" "),
} satisfies Command;
