import type { Command, PluginGrants, PluginStatus } from "../lib/command.ts";

/** `plugins [--json]`: each plugin file, its commands, whether it loaded, its grants. */
export default {
  name: "plugins",
  summary: "List plugin files: commands, loaded or failed (and why), grants, host process, memory",
  access: "admin",
  args: [],
  flags: { json: { type: "boolean", description: "Answer with structured data" } },
  async run(ctx) {
    if (!ctx.server.plugins) throw new Error("This server has no plugin list");
    const list = ctx.server.plugins();
    if (ctx.flags.json) return list.map((p) => ({ ...p }) as unknown as Record<string, never>);
    if (list.length === 0) return "no plugins";
    // Loaded on first use: cli-table3 and its dependencies stay out of an idle server (about 2 MB RSS).
    const { formatTable } = await import("../lib/table.ts");
    return describe(list, formatTable);
  },
} satisfies Command;

/** One aligned row per file, then what failed or was skipped, a line each. */
function describe(list: PluginStatus[], formatTable: (head: string[], rows: string[][]) => string): string {
  const rows = list.map((p) => [
    p.file,
    state(p),
    p.runner,
    p.commands.join(",") || "-",
    grants(p.grants),
    p.pid !== undefined ? String(p.pid) : p.host ?? "-",
    p.memoryBytes === undefined ? "-" : `${(p.memoryBytes / 1048576).toFixed(1)} MiB`,
    [
      p.calls ? `${p.calls} calls` : "",
      p.restarts ? `${p.restarts} restarts` : "",
      p.retiring ? `${p.retiring} retiring` : "",
    ].filter(Boolean).join(", ") || "-",
  ]);
  // HOST: the host's pid while it runs, else "stopped" (idle: the next call starts it) or "starting".
  const head = ["FILE", "STATE", "RUNNER", "COMMANDS", "GRANTS", "HOST", "MEMORY", "ACTIVITY"];
  const notes: string[] = [];
  for (const p of list) {
    if (p.error !== undefined) {
      const which = p.state === "failed" ? "its newest content did not load" : "disabled";
      notes.push(`${p.file}: ${which}: ${p.error}`);
    }
    for (const w of p.warnings) notes.push(`${p.file}: warning: ${w}`);
  }
  return [formatTable(head, rows), ...(notes.length ? ["", ...notes] : [])].join("\n");
}

/** `loaded v2`; `failed, v2 serves` (the file's newest content failed, version 2 still answers); `disabled`. */
function state(p: PluginStatus): string {
  if (p.state === "loaded") return `loaded v${p.version}`;
  if (p.state === "failed") return p.version > 0 ? `failed, v${p.version} serves` : "failed, none serves";
  return p.version > 0 ? `disabled v${p.version}` : "disabled";
}

function grants(g: PluginGrants): string {
  const parts = Object.entries(g)
    .filter(([k]) => k !== "sandbox")
    .map(([k, v]) => `${k}=${v === true ? "all" : Array.isArray(v) ? v.join(",") : String(v)}`);
  return parts.length ? parts.join(" ") : "no grants";
}
