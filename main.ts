/**
 * sockd's entry point: the server and the client in one binary.
 * Everything happens in lib/cli; this file only hands it argv.
 *
 * A plain `sockd call` is tried first, before the rest of the CLI is
 * loaded: scripts pay its cold start in every loop (lib/cli/call_fast.ts).
 *
 * @module
 */
if (Deno.args[0] === "call") {
  const { fastCall } = await import("./lib/cli/call_fast.ts");
  const code = await fastCall(Deno.args.slice(1));
  if (code !== undefined) Deno.exit(code);
}
// The rest by computed specifiers: `deno run` reads the whole module graph behind every literal
// import() before it starts, ~5 ms of CPU for the full CLI that a plain call never runs. A
// compiled binary has them through build.ts's --include (RUNTIME_FILES).
const here = (path: string) => new URL(path, import.meta.url).href;
const { HOST_SUBCOMMAND, hostMain } = await import(
  here("./lib/runner/host_main.ts")
) as typeof import("./lib/runner/host_main.ts");
// A compiled binary starts plugin hosts as itself (lib/runner/host_process.ts).
if (Deno.args[0] === HOST_SUBCOMMAND) await hostMain(Deno.args[1] ?? "{}");
else {
  const { main } = await import(here("./lib/cli/main.ts")) as typeof import("./lib/cli/main.ts");
  Deno.exit(await main(Deno.args));
}
