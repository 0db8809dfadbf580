import { ACCESS_LEVELS, type Command, type CommandInfo } from "../lib/command.ts";

/** `help [COMMAND|@read|@operate|@admin]`: the commands this connection may call (of one level), or one command's usage. */
export default {
  name: "help",
  summary: "List commands, or show how to use one",
  access: "read",
  args: [{ name: "command", optional: true, description: "Command to describe, or @read, @operate, @admin" }],
  flags: { json: { type: "boolean", description: "Answer with structured data" } },
  run(ctx) {
    let visible = ctx.server.commands(ctx.caller.access);
    let name: string | undefined = ctx.args[0];
    if (name?.startsWith("@")) {
      const level = name.slice(1);
      if (!(ACCESS_LEVELS as readonly string[]).includes(level)) {
        throw Object.assign(new Error(`Unknown group "${name}" (use @read, @operate or @admin)`), {
          status: 110,
        });
      }
      visible = visible.filter((c) => c.access === level);
      name = undefined;
    }
    if (name === undefined) {
      if (ctx.flags.json) {
        return visible.map(({ name, summary, usage, access }) => ({ name, summary, usage, access }));
      }
      if (visible.length === 0) return "no commands";
      const width = Math.max(...visible.map((c) => c.name.length));
      return visible.map((c) => `${c.name.padEnd(width)}  ${c.summary}`).join("\n");
    }
    const cmd = visible.find((c) => c.name === name);
    if (!cmd) {
      throw Object.assign(new Error(`Unknown command "${name}"`), { status: 101 });
    }
    return ctx.flags.json ? (cmd as unknown as Record<string, never>) : describe(cmd);
  },
} satisfies Command;

function describe(cmd: CommandInfo): string {
  const lines = [`usage: ${cmd.usage}`, "", cmd.summary];
  if (cmd.description) lines.push("", cmd.description);
  const rows: [string, string][] = [
    ...cmd.args.map((a): [string, string] => [a.name.toUpperCase(), a.description ?? ""]),
    ...Object.entries(cmd.flags).map(([n, f]): [string, string] => [
      `--${n}${f.short ? `, -${f.short}` : ""}`,
      [f.description ?? "", f.default !== undefined ? `(default ${f.default})` : ""].filter(Boolean).join(
        " ",
      ),
    ]),
  ];
  if (rows.length) {
    const w = Math.max(...rows.map((r) => r[0].length));
    lines.push("", ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`.trimEnd()));
  }
  lines.push(
    "",
    `access: ${cmd.access}` + (cmd.timeout ? `, deadline: ${cmd.timeout} ms` : "") +
      (cmd.persistent ? ", persistent" : ""),
  );
  return lines.join("\n");
}
