/**
 * sockd's entry point: the server and the client in one binary.
 * Everything happens in lib/cli; this file only hands it argv.
 *
 * @module
 */
import { main } from "./lib/cli/main.ts";
import { HOST_SUBCOMMAND, hostMain } from "./lib/runner/host_main.ts";

// A compiled binary starts plugin hosts as itself (lib/runner/host_process.ts).
if (Deno.args[0] === HOST_SUBCOMMAND) await hostMain(Deno.args[1] ?? "{}");
else Deno.exit(await main(Deno.args));
