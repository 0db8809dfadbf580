/**
 * The command line: parses argv with commander and hands each subcommand to
 * its module. `main.ts` at the top only calls {@linkcode main}.
 *
 * @module
 */
import { Argument, Command, CommanderError, Option } from "commander";
import { LOG_LEVELS, type LogLevel } from "../log.ts";
import { VERSION } from "../version.ts";
import { runCall } from "./call.ts";
import { completionScript, SHELLS } from "./completions.ts";
import { parseDuration } from "./duration.ts";
import { Exit } from "./exit_codes.ts";
import { runRepl } from "./repl.ts";
import { runServe } from "./serve.ts";
import { defaultSocketPath } from "./socket_path.ts";
import { errorLine } from "./render.ts";

const encoder = new TextEncoder();

/** Where the CLI writes; tests pass their own. */
export interface MainIO {
  out(text: string): void;
  err(text: string): void;
}

const stdio: MainIO = {
  out: (t) => void Deno.stdout.writeSync(encoder.encode(t)),
  err: (t) => void Deno.stderr.writeSync(encoder.encode(t)),
};

/** Runs the CLI with `args` (without the program name); resolves to the exit code. */
export async function main(args: string[], io: MainIO = stdio): Promise<number> {
  let code: number = Exit.OK;
  const program = new Command("sockd")
    .description("A control socket for running processes: serve commands on a UNIX socket, and call them.")
    .version(`sockd ${VERSION}`, "-V, --version", "Print the version")
    .helpOption("-h, --help", "Show help")
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .exitOverride()
    // Colour decisions are ours (NO_COLOR, a terminal); commander would read FORCE_COLOR and
    // CLICOLOR_FORCE, which the permission set does not grant.
    .configureOutput({
      writeOut: io.out,
      writeErr: io.err,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    });

  const socketOption = () =>
    new Option(
      "-s, --socket <path>",
      "Socket path (default: $SOCKD_SOCKET, $XDG_RUNTIME_DIR/sockd.sock, or per-user)",
    );

  program.command("serve")
    .description("Serve the built-in commands and plugin directories on a UNIX socket")
    .addOption(socketOption())
    .option("-p, --plugins <dir>", "Plugin directory (repeatable)", collect, [])
    .addOption(new Option("--log-level <level>", "Log level").choices(LOG_LEVELS).default("info"))
    .addOption(new Option("--log-format <format>", "Log format").choices(["text", "json"]).default("text"))
    .option("--mode <octal>", "Socket file mode", "600")
    .action(async (opts) => {
      const mode = parseInt(opts.mode, 8);
      if (!/^[0-7]{3,4}$/.test(opts.mode)) {
        io.err(errorLine(`Invalid --mode "${opts.mode}" (use octal, e.g. 600 or 660)`));
        code = Exit.USAGE;
        return;
      }
      code = await runServe({
        socket: opts.socket,
        plugins: opts.plugins,
        logLevel: opts.logLevel as LogLevel,
        logFormat: opts.logFormat,
        mode,
      }, io.err);
    });

  program.command("call")
    .description("Call one command and print what it answers (exit codes: see the README)")
    .argument("<command>", "Command to call")
    .argument("[args...]", "Its arguments (flags after the command are passed to it)")
    .addOption(socketOption())
    .option("--json", "Print one JSON object per event")
    .option("-t, --timeout <duration>", "Deadline for the call (500ms, 5s, 2m; bare numbers are seconds)")
    .option("--no-stdin", "Do not send stdin as the command's input")
    .passThroughOptions()
    .action(async (command: string, args: string[], opts) => {
      let timeoutMs: number | undefined;
      try {
        timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout);
      } catch (err) {
        io.err(errorLine((err as Error).message));
        code = Exit.USAGE;
        return;
      }
      const interrupt = new AbortController();
      const onInt = () => interrupt.abort();
      Deno.addSignalListener("SIGINT", onInt);
      const stdout = Deno.stdout.writable.getWriter();
      try {
        code = await runCall(
          command,
          args,
          {
            socket: opts.socket ?? defaultSocketPath(),
            json: opts.json === true,
            timeoutMs,
            stdin: opts.stdin !== false && !Deno.stdin.isTerminal(),
          },
          { stdout, stderr: io.err, stdin: Deno.stdin.readable },
          interrupt.signal,
        );
      } finally {
        Deno.removeSignalListener("SIGINT", onInt);
        await stdout.ready.catch(() => {}); // a closed pipe (`| head`) was already handled
        stdout.releaseLock();
      }
    });

  program.command("repl")
    .description("Type commands at the server, with completion and history (see docs/CLIENT.md)")
    .addOption(socketOption())
    .option("--no-history", "Neither read nor write the history file")
    .action(async (opts) => {
      code = await runRepl({
        socket: opts.socket ?? defaultSocketPath(),
        historyPath: opts.history === false ? null : undefined,
      });
    });

  program.command("completions")
    .description("Print a shell completion script that asks the live server for command names")
    .addArgument(new Argument("<shell>", "Shell to complete in").choices(SHELLS))
    .action((shell: string) => {
      const subcommands = program.commands.filter((c) => c.name() !== "help").map((c) => ({
        name: c.name(),
        description: c.description(),
        options: c.options.map((o) => ({
          names: [o.short, o.long].filter((n): n is string => !!n),
          takesValue: o.required || o.optional,
          description: o.description,
        })),
      }));
      io.out(completionScript(shell, subcommands));
    });

  try {
    await program.parseAsync(args, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? Exit.OK : Exit.USAGE;
    }
    io.err(errorLine((err as Error).message ?? String(err)));
    return Exit.FAILED;
  }
  return code;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
