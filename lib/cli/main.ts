/**
 * The command line: parses argv with commander and hands each subcommand to
 * its module. `main.ts` at the top only calls {@linkcode main}.
 *
 * @module
 */
import type { LogLevel } from "../log.ts";
import { LOG_LEVELS } from "../log.ts";
import { ACCESS_LEVELS } from "../command.ts";
import { VERSION } from "../version.ts";
import type { Connector } from "./call.ts";
import { Exit, exitCodeHelp } from "./exit_codes.ts";
import { defaultSocketPath, trustedOwner } from "./socket_path.ts";
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
  // The sockd set grants ffi for the server's malloc_trim (lib/cli/_idle_memory.ts, which drops it there);
  // nothing else uses it.
  if (args[0] !== "serve") Deno.permissions.revokeSync({ name: "ffi" });
  // One-shot calls skip commander and the server/REPL modules: see call_cli.ts.
  if (args[0] === "call") {
    const [{ parseCallArgv }, { callAction }] = await Promise.all([
      import("./call_argv.ts"),
      import("./call_cli.ts"),
    ]);
    const fast = parseCallArgv(args.slice(1));
    if (fast) return await callAction(fast.command, fast.args, fast.options, io.err, connectClient);
  }
  const { Argument, Command, CommanderError, Option } = await import("commander");
  // `sockd serve` declares only its own subcommand (its parsing, help and errors are the same): the
  // client's modules the others need would stay in the server's memory for good (see lib/cli/serve.ts).
  const client = args[0] === "serve" ? undefined : await Promise.all([
    import("./call_cli.ts"),
    import("./fleet_call_cli.ts"),
    import("./completions.ts"),
  ]);
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
      outputError: (text, write) => write(commanderError(text)),
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
    .option("--group <name>", "Group owning the socket file (with --mode 660, its members may connect)")
    .addOption(new Option("--access <level>", "What connections on --socket may call").choices(ACCESS_LEVELS))
    .option(
      "--listen <spec>",
      "Another socket: PATH[,access=read|operate|admin][,mode=OCTAL][,group=NAME][,maxConnections=N]" +
        "[,maxCalls=N][,maxCallsPerConnection=N][,idleTimeoutMs=DURATION] (repeatable); " +
        "fd:NAME instead of PATH: the sockets systemd passed under that name",
      collect,
      [],
    )
    .option("--takeover", "Replace a running server on --socket without downtime; it drains its calls")
    .option("--supervise <file>", "Supervise the processes of this JSON config (README: Supervise a program)")
    .addOption(new Option("--successor", "Started by `upgrade` (internal)").hideHelp())
    .option(
      "--limit <name=value>",
      "Change a limit, e.g. maxConnections=100, idleTimeoutMs=5m (repeatable)",
      collect,
      [],
    )
    .action(async (opts) => {
      const { parseAccess, parseLimit, parseListenSpec, parseMode } = await import("./listen_spec.ts");
      let parsed;
      try {
        parsed = {
          mode: parseMode(opts.mode),
          access: opts.access === undefined ? undefined : parseAccess(opts.access),
          listen: (opts.listen as string[]).map(parseListenSpec),
          limits: (opts.limit as string[]).reduce((acc, l) => parseLimit(l, acc), {}),
        };
      } catch (err) {
        io.err(errorLine((err as Error).message));
        code = Exit.USAGE;
        return;
      }
      const { runServe } = await import("./serve.ts");
      code = await runServe({
        socket: opts.socket,
        plugins: opts.plugins,
        logLevel: opts.logLevel as LogLevel,
        logFormat: opts.logFormat,
        group: opts.group,
        takeover: opts.takeover === true,
        supervise: opts.supervise,
        successor: opts.successor === true,
        ...parsed,
      }, io.err);
    });

  if (client) {
    const [{ CALL_OPTIONS, callAction }, { REPL_REMOTE_OPTIONS }, { SHELLS }] = client;
    const call = program.command("call")
      .description("Call one command and print what it answers")
      .argument("<command>", "Command to call")
      .argument("[args...]", "Its arguments (flags after the command are passed to it)")
      .passThroughOptions()
      .action(async (command: string, args: string[], opts) => {
        code = await callAction(command, args, opts, io.err, connectClient);
      });
    for (const o of CALL_OPTIONS) {
      const flags = `${o.short ? `-${o.short}, ` : ""}--${o.long}${o.value ? ` <${o.value}>` : ""}`;
      const option = new Option(flags, o.description);
      call.addOption(o.multiple ? option.argParser(collect) : option);
    }
    call.addHelpText("after", exitCodeHelp());

    const repl = program.command("repl")
      .description("Type commands at the server, with completion and history (see docs/CLIENT.md)")
      .addOption(socketOption())
      .option("--no-history", "Neither read nor write the history file")
      .option(
        "--trust-owner <user>",
        "Also trust this user (name or uid) to own the socket (default: $SOCKD_TRUST_OWNER)",
      )
      .action(async (opts) => {
        let trustOwner;
        let remote;
        try {
          trustOwner = trustedOwner(opts.trustOwner);
          const { replRemote } = await import("./fleet_call_cli.ts");
          remote = await replRemote(opts);
        } catch (err) {
          io.err(errorLine((err as Error).message));
          code = Exit.USAGE;
          return;
        }
        const { runRepl } = await import("./repl.ts");
        code = await runRepl({
          socket: remote?.name ?? opts.socket ?? defaultSocketPath(),
          historyPath: opts.history === false ? null : undefined,
          trustOwner,
          dial: remote?.dial,
        });
      });
    // One host: the options of `sockd call --host` that make sense for a single one.
    for (const o of CALL_OPTIONS.filter((o) => REPL_REMOTE_OPTIONS.has(o.long))) {
      const flags = `${o.short ? `-${o.short}, ` : ""}--${o.long}${o.value ? ` <${o.value}>` : ""}`;
      const option = new Option(
        flags,
        o.long === "host" ? "Type at the server on this host, through ssh" : o.description,
      );
      repl.addOption(o.multiple && o.long !== "host" ? option.argParser(collect) : option);
    }

    program.command("bridge")
      .description("Join stdin/stdout to the socket, for `ssh HOST sockd bridge` (any dialect)")
      .addOption(socketOption())
      .option(
        "--trust-owner <user>",
        "Also trust this user (name or uid) to own the socket (default: $SOCKD_TRUST_OWNER)",
      )
      .action(async (opts) => {
        let trustOwner;
        try {
          trustOwner = trustedOwner(opts.trustOwner);
        } catch (err) {
          io.err(errorLine((err as Error).message));
          code = Exit.USAGE;
          return;
        }
        const { runBridge } = await import("./bridge.ts");
        code = await runBridge({ socket: opts.socket ?? defaultSocketPath(), trustOwner });
      });

    program.command("completions")
      .description("Print a shell completion script that asks the live server for command names")
      .addArgument(new Argument("<shell>", "Shell to complete in").choices(SHELLS))
      .action(async (shell: string) => {
        const { completionScript } = await import("./completions.ts");
        const subcommands = program.commands.filter((c) => c.name() !== "help").map((c) => ({
          name: c.name(),
          description: c.description(),
          options: c.options.map((o) => ({
            names: [o.short, o.long].filter((n): n is string => !!n),
            takesValue: o.required || o.optional,
            description: o.description,
          })),
        }));
        const { selfCommand } = await import("./self_command.ts");
        io.out(completionScript(shell, subcommands, { self: selfCommand() }));
      });

    program.command("version")
      .description("Print sockd's version (build.ts checks a compiled binary with it)")
      .action(() => io.out(`sockd ${VERSION}\n`));

    program.command("init")
      .description(
        "Create a plugin directory: an example command, deno.json for type checking, sockd.json grants",
      )
      .argument("<dir>", "Directory to create (existing files are kept)")
      .action(async (dir: string) => {
        const { runInit } = await import("./init.ts");
        code = await runInit(dir, io);
      });
  }

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

/**
 * Commander's error as sockd's one line: `error: unknown command 'verison'`
 * and `(Did you mean version?)` become
 * `sockd: unknown command 'verison' (did you mean "version"?)`.
 */
export function commanderError(text: string): string {
  const lines = text.trim().split("\n");
  let message = lines[0]!.replace(/^error: /, "");
  const suggestion = /^\(Did you mean (\S+)\?\)$/.exec(lines[1] ?? "");
  if (suggestion) message += ` (did you mean "${suggestion[1]}"?)`;
  return errorLine(message);
}

/** `sockd call`'s connection through lib/client.ts (main.ts runs plain calls on the one-shot client). */
const connectClient: Connector = async (path, options) =>
  (await import("../client.ts")).connect(path, options);

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
