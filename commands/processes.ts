/**
 * The supervisor's built-ins, registered when the server supervises
 * processes (`sockd serve --supervise FILE`): `ps`, `start`, `stop`,
 * `restart`, `signal`, `logs`, `events`. Reading is `read`; changing what
 * runs is `operate`.
 *
 * @module
 */
import type { Command, Context } from "../lib/command.ts";
import type {
  ProcessEvent,
  ProcessInfo,
  SupervisingServerView,
  SupervisorView,
} from "../lib/supervise/types.ts";

const json = { type: "boolean", description: "Answer with structured data" } as const;
const nameArg = { name: "name", description: "Process name (see ps)" };

function supervisor(ctx: Context): SupervisorView {
  const { processes } = ctx.server as SupervisingServerView;
  if (!processes) throw new Error("This server supervises no processes (sockd serve --supervise FILE)");
  return processes;
}

/** `ps [NAME] [--json]`: every process in a table, or one in detail. */
export const ps = {
  name: "ps",
  summary: "List supervised processes: state, pid, uptime, restarts, last exit, memory",
  access: "read",
  args: [{ ...nameArg, optional: true, description: "Show this process in detail" }],
  flags: { json },
  async run(ctx) {
    const sup = supervisor(ctx);
    const name = ctx.args[0];
    if (name !== undefined) {
      const info = await sup.info(name);
      return ctx.flags.json ? { ...info } : detail(info);
    }
    const list = await sup.list();
    return ctx.flags.json ? list.map((i) => ({ ...i })) : table(list);
  },
} satisfies Command;

function change(
  name: string,
  summary: string,
  act: (sup: SupervisorView, name: string) => Promise<ProcessInfo>,
): Command {
  return {
    name,
    summary,
    access: "operate",
    args: [nameArg],
    flags: { json },
    async run(ctx) {
      const info = await act(supervisor(ctx), ctx.args[0]!);
      return ctx.flags.json
        ? { ...info }
        : `${info.name}: ${info.state}${info.pid ? ` (pid ${info.pid})` : ""}`;
    },
  };
}

/** `start NAME`: starts a stopped, exited or fatal process; answers once it is spawned. */
export const start: Command = change("start", "Start a process (resets a fatal one)", (s, n) => s.start(n));
/** `stop NAME`: answers once no process of its group is left. */
export const stop: Command = change(
  "stop",
  "Stop a process and its process group (SIGKILL after its stop timeout)",
  (s, n) => s.stop(n),
);
/** `restart NAME`: stop, then start. */
export const restart: Command = change("restart", "Stop a process, then start it", (s, n) => s.restart(n));

/** `signal NAME SIG [--group]`. */
export const signal = {
  name: "signal",
  summary: "Send a signal (HUP, USR1, TERM, ...) to a process, or with --group to its process group",
  access: "operate",
  args: [nameArg, { name: "signal", description: "Signal name, e.g. HUP or SIGUSR1" }],
  flags: { group: { type: "boolean", description: "Signal every process in its group" } },
  async run(ctx) {
    await supervisor(ctx).signal(ctx.args[0]!, ctx.args[1]!, { group: ctx.flags.group === true });
    return "sent";
  },
} satisfies Command;

/** `logs NAME [-n N] [-f] [--stderr]`. */
export const logs = {
  name: "logs",
  summary: "Show the last lines a process wrote (-f: follow as it writes)",
  description: "Each process keeps the last logBytes (default 1 MiB) of stdout and of stderr.",
  access: "read",
  persistent: true,
  args: [nameArg],
  flags: {
    lines: { type: "number", short: "n", default: 10, description: "Lines to show first" },
    follow: { type: "boolean", short: "f", description: "Keep streaming new output until cancelled" },
    stderr: { type: "boolean", description: "Standard error instead of standard output" },
  },
  async *run(ctx) {
    const sup = supervisor(ctx);
    const name = ctx.args[0]!;
    const stream = ctx.flags.stderr ? "stderr" : "stdout";
    const lines = Number(ctx.flags.lines);
    if (!Number.isInteger(lines) || lines < 0) throw new Error("--lines must be a whole number >= 0");
    // Subscribed before the tail is read, so nothing written in between is lost.
    const follow = ctx.flags.follow ? sup.follow(name, ctx.signal, stream) : undefined;
    const tail = sup.tail(name, lines, stream);
    if (tail) yield tail;
    if (follow) yield* follow;
  },
} satisfies Command;

/** `events [NAME] [--replay N] [--json]`: a persistent stream of state changes. */
export const events = {
  name: "events",
  summary: "Stream state changes of supervised processes until cancelled",
  access: "read",
  persistent: true,
  args: [{ ...nameArg, optional: true, description: "Only this process" }],
  flags: {
    replay: { type: "number", default: 0, description: "First repeat up to N recent changes" },
    json,
  },
  async *run(ctx) {
    const replay = Number(ctx.flags.replay);
    if (!Number.isInteger(replay) || replay < 0) throw new Error("--replay must be a whole number >= 0");
    const stream = supervisor(ctx).events(ctx.signal, { name: ctx.args[0], replay });
    for await (const e of stream) yield ctx.flags.json ? { ...e } : eventLine(e);
  },
} satisfies Command;

/** The supervisor built-ins. */
export const PROCESS_BUILTINS: readonly Command[] = [ps, start, stop, restart, signal, logs, events];

function eventLine(e: ProcessEvent): string {
  const extra = [
    e.pid !== undefined ? `pid ${e.pid}` : "",
    exitText(e),
    e.delayMs !== undefined ? `next start in ${e.delayMs} ms` : "",
    e.restarts ? `restarts ${e.restarts}` : "",
    e.error ?? "",
  ].filter(Boolean).join(", ");
  return `${e.time} ${e.name} ${e.from} -> ${e.state}${extra ? ` (${extra})` : ""}\n`;
}

function exitText(i: { exitCode?: number; exitSignal?: string }): string {
  if (i.exitSignal !== undefined) return `killed by ${i.exitSignal}`;
  if (i.exitCode !== undefined) return `exit ${i.exitCode}`;
  return "";
}

function table(list: ProcessInfo[]): string {
  if (list.length === 0) return "no processes";
  const rows = [
    ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT", "RSS"],
    ...list.map((i) => [
      i.name,
      i.state,
      i.pid === undefined ? "-" : String(i.pid),
      i.uptimeMs === undefined ? "-" : duration(i.uptimeMs),
      String(i.restarts),
      exitText(i) || "-",
      i.rssBytes === undefined ? "-" : mib(i.rssBytes),
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((v, c) => v.padEnd(widths[c]!)).join("  ").trimEnd()).join("\n");
}

function detail(i: ProcessInfo): string {
  const rows: [string, string][] = [
    ["name", i.name],
    ["state", `${i.state} since ${i.since}`],
    ["command", i.command.map((w) => /^[\w./:=@%+-]+$/.test(w) ? w : JSON.stringify(w)).join(" ")],
    ["pid", i.pid === undefined ? "-" : String(i.pid)],
    ["uptime", i.uptimeMs === undefined ? "-" : duration(i.uptimeMs)],
    ["restarts", String(i.restarts)],
    ["last exit", exitText(i) || "-"],
    ["rss", i.rssBytes === undefined ? "-" : mib(i.rssBytes)],
  ];
  if (i.error) rows.push(["error", i.error]);
  return rows.map(([k, v]) => `${(k + ":").padEnd(11)}${v}`).join("\n");
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor(s / 3600) % 24).padStart(2, "0")}h`;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
