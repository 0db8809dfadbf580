/**
 * The Deno.Conn comparator of the bench's `adopted-*` rows: the library's
 * `serve()` without `movable`, so its connections are `Deno.Conn`s, serving
 * the built-ins and the bench commands (tests/bench/fixtures) inline, as
 * `sockd serve` serves them in the bench. `sockd serve` itself accepts with
 * `node:net` since issue 13, so it cannot be its own comparator any more.
 *
 * Run by tests/bench/_adopted.ts as
 * `deno run -q -P=sockd tests/bench/deno_conn_server.ts PATH` (the same
 * permission set as `sockd serve`); stops on SIGTERM or SIGINT.
 *
 * @module
 */
import { type Command, serve } from "../../lib/mod.ts";
import benchCommands from "./fixtures/bench_commands.ts";

const path = Deno.args[0];
if (!path || Deno.args.length !== 1) {
  console.error("usage: deno_conn_server.ts PATH");
  Deno.exit(2);
}
const server = await serve({ path, commands: benchCommands as unknown as Command[] });
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => void server.close());
}
await server.finished;
Deno.exit(0);
