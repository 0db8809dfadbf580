/**
 * sockd's entry point: the server and the client in one binary.
 * Everything happens in lib/cli; this file only hands it argv.
 *
 * @module
 */
import { main } from "./lib/cli/main.ts";

Deno.exit(await main(Deno.args));
