import type { Command, ReloadReport } from "../lib/command.ts";

/**
 * `reload [--all] [--json]`: reloads the plugin directories, as SIGHUP and a
 * change in a watched directory do. Answers 105 when a plugin failed to load
 * (its old version, if any, keeps serving), so `sockd call reload` fails in a
 * deploy script.
 */
export default {
  name: "reload",
  summary: "Reload the plugin directories (changed files; --all for every file) and the process config",
  description: "New calls go to the new versions; calls in flight finish on the old ones.\n" +
    "A plugin that fails to load keeps its old version serving; see `plugins`.",
  access: "admin",
  args: [],
  flags: {
    all: { type: "boolean", description: "Reload every plugin file, changed or not" },
    json: { type: "boolean", description: "Answer with structured data" },
  },
  async run(ctx) {
    if (!ctx.server.reload) throw new Error("This server cannot reload");
    const report = await ctx.server.reload({ all: ctx.flags.all === true });
    if (report.failed.length > 0) {
      const list = report.failed.map((f) => `${name(f.file)}: ${f.error}`).join("; ");
      throw Object.assign(
        new Error(`Reload: ${report.failed.length} failed to load (older versions keep serving): ${list}`),
        { status: 105, details: { ...report } },
      );
    }
    return ctx.flags.json ? { ...report } : summary(report);
  },
} satisfies Command;

function name(file: string): string {
  return file.slice(file.lastIndexOf("/") + 1);
}

function summary(r: ReloadReport): string {
  const files = (list: string[]) => list.length ? ` (${list.map(name).join(", ")})` : "";
  const p = r.processes;
  const procs = (label: string, list: string[]) => list.length ? `${label} ${list.join(",")}` : "";
  const processes = p
    ? "; processes: " + ([
      procs("added", p.added),
      procs("changed", p.changed),
      procs("removed", p.removed),
    ].filter(Boolean).join(", ") || "no change") + ` (${p.unchanged.length} unchanged)`
    : "";
  return `reloaded ${r.loaded.length}${files(r.loaded)}, unchanged ${r.unchanged.length}, ` +
    `removed ${r.removed.length}${files(r.removed)}; ${r.commands} commands${processes} (${r.durationMs} ms)`;
}
