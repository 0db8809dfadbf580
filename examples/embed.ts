/**
 * A daemon that embeds a sockd control socket to expose its own state.
 *
 *     deno run -q -P=sockd examples/embed.ts /tmp/app.sock
 *     sockd call --socket /tmp/app.sock state        # sockd: see deno task install
 *     sockd call --socket /tmp/app.sock verbosity debug
 *     sockd call --socket /tmp/app.sock ticks --count 3
 *
 * @module
 */
import { type Command, serve } from "sockd";

// The daemon's own state: a counter of work done and a log level.
const state = { jobs: 0, level: "info", started: new Date() };
const work = setInterval(() => state.jobs++, 100);

const commands: Command[] = [
  {
    name: "state",
    summary: "Jobs done, verbosity and uptime",
    access: "read",
    run: () => ({
      jobs: state.jobs,
      level: state.level,
      uptimeSeconds: Math.round((Date.now() - state.started.getTime()) / 1000),
    }),
  },
  {
    name: "verbosity",
    summary: "Show or change the app's own log verbosity",
    access: "operate",
    args: [{ name: "level", optional: true, description: "debug, info, warn or error" }],
    run(ctx) {
      const next = ctx.args[0];
      if (next === undefined) return state.level;
      if (!["debug", "info", "warn", "error"].includes(next)) {
        throw new Error(`Unknown level "${next}" (use debug, info, warn or error)`);
      }
      state.level = next;
      return `verbosity is now ${next}`;
    },
  },
  {
    name: "ticks",
    summary: "Stream the job counter every 100 ms",
    access: "read",
    flags: { count: { type: "number", default: 10 } },
    async *run(ctx) {
      for (let i = 0; i < Number(ctx.flags.count) && !ctx.signal.aborted; i++) {
        yield { jobs: state.jobs };
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  },
];

const path = Deno.args[0] ?? `${Deno.env.get("TMPDIR") ?? "/tmp"}/embed-example.sock`;
// The name and version the server reports: in `version`, `status`, and the REPL's banner and prompt.
const server = await serve({ path, commands, name: "embed-example", version: "1.0.0" });
for (const f of server.loadFailures) console.error(`command skipped: ${f.error}`);
console.error(`control socket at ${server.path}; Ctrl-C to stop`);
Deno.addSignalListener("SIGINT", () => {
  clearInterval(work);
  server.close();
});
await server.finished;
