import type { Command, PluginGrants, PluginStatus } from "../lib/command.ts";

/** `plugins [--json]`: each plugin file, its commands, whether it loaded, its grants. */
export default {
  name: "plugins",
  summary: "List plugin files: commands, loaded or failed (and why), grants, memory",
  access: "admin",
  args: [],
  flags: { json: { type: "boolean", description: "Answer with structured data" } },
  run(ctx) {
    if (!ctx.server.plugins) throw new Error("This server has no plugin list");
    const list = ctx.server.plugins();
    if (ctx.flags.json) return list.map((p) => ({ ...p }) as unknown as Record<string, never>);
    if (list.length === 0) return "no plugins";
    return list.map(describe).join("\n");
  },
} satisfies Command;

function describe(p: PluginStatus): string {
  const head = [
    p.file,
    p.state + (p.version > 0 ? ` v${p.version}` : ""),
    p.runner,
    p.commands.join(",") || "-",
    grants(p.grants),
  ];
  if (p.pid !== undefined) head.push(`pid ${p.pid}`);
  if (p.memoryBytes !== undefined) head.push(`${(p.memoryBytes / 1048576).toFixed(1)} MiB`);
  if (p.calls) head.push(`${p.calls} calls`);
  if (p.restarts) head.push(`${p.restarts} restarts`);
  if (p.retiring) head.push(`${p.retiring} retiring`);
  const lines = [head.join("  ")];
  if (p.error !== undefined) lines.push(`  error: ${p.error}`);
  for (const w of p.warnings) lines.push(`  warning: ${w}`);
  return lines.join("\n");
}

function grants(g: PluginGrants): string {
  const parts = Object.entries(g)
    .filter(([k]) => k !== "sandbox")
    .map(([k, v]) => `${k}=${v === true ? "all" : Array.isArray(v) ? v.join(",") : String(v)}`);
  return parts.length ? parts.join(" ") : "no grants";
}
