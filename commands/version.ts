import type { Command } from "../lib/command.ts";

/** `version`: the server's name and version and the Deno it runs on. */
export default {
  name: "version",
  summary: "Show the server's version",
  access: "read",
  args: [],
  run: (ctx) => `${ctx.server.name} ${ctx.server.version} (deno ${Deno.version.deno})`,
} satisfies Command;
