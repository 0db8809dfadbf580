/**
 * Drives a program in a real pseudo-terminal with tmux: a private tmux
 * server (`tmux -S DIR/tmux.sock`, no user config), one window of a fixed
 * size, keys sent with `send-keys`, the screen read with `capture-pane`, and
 * every wait polled against a deadline. Disposing kills the tmux server.
 */
import { ROOT, waitFor } from "../_helpers.ts";

/** Options of {@linkcode Tmux.start}. */
export interface TmuxOptions {
  /** Environment of the program (added to tmux's own). */
  env?: Record<string, string>;
  /** Window size. @default {100} */
  width?: number;
  /** @default {30} */
  height?: number;
  /** Working directory. @default ROOT */
  cwd?: string;
}

/** Runs `tmux ARGS...`; throws with its stderr when it fails. */
async function tmux(socket: string, args: string[]): Promise<string> {
  const out = await new Deno.Command("tmux", {
    args: ["-S", socket, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) throw new Error(`tmux ${args[0]} failed: ${dec.decode(out.stderr).trim()}`);
  return dec.decode(out.stdout);
}

/** The sockd REPL (or any program) running in a tmux pane. */
export class Tmux implements AsyncDisposable {
  readonly socket: string;

  private constructor(socket: string) {
    this.socket = socket;
  }

  /**
   * Starts a private tmux server in `dir` running `command` (argv, executed
   * directly, not through a shell). The pane stays after the program exits
   * so its last screen and exit status can be read.
   */
  static async start(dir: string, command: string[], options: TmuxOptions = {}): Promise<Tmux> {
    const socket = `${dir}/tmux-${crypto.randomUUID().slice(0, 8)}.sock`;
    const conf = `${dir}/tmux.conf`;
    await Deno.writeTextFile(
      conf,
      "set -g remain-on-exit on\nset -g status off\nset -g history-limit 20000\nset -g escape-time 0\n",
    );
    const env = Object.entries(options.env ?? {}).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
    await tmux(socket, [
      "-f",
      conf,
      "new-session",
      "-d",
      "-s",
      "main",
      "-x",
      String(options.width ?? 100),
      "-y",
      String(options.height ?? 30),
      "-c",
      options.cwd ?? ROOT,
      ...env,
      ...command,
    ]);
    return new Tmux(socket);
  }

  /** Sends key names (`Tab`, `Enter`, `C-c`, `Up`, …). */
  async keys(...names: string[]): Promise<void> {
    await tmux(this.socket, ["send-keys", "-t", "main", ...names]);
  }

  /** Types `text` literally. */
  async type(text: string): Promise<void> {
    await tmux(this.socket, ["send-keys", "-t", "main", "-l", text]);
  }

  /** The screen and scrollback, wrapped lines joined; `escapes` keeps colours. */
  async screen(options: { escapes?: boolean } = {}): Promise<string> {
    const args = ["capture-pane", "-p", "-J", "-S", "-2000", "-t", "main"];
    if (options.escapes) args.push("-e");
    return (await tmux(this.socket, args)).replace(/\n+$/, "\n");
  }

  /** What is left of the cursor on its line (the prompt and the input typed so far). */
  async beforeCursor(): Promise<string> {
    const [x, y] =
      (await tmux(this.socket, ["display-message", "-p", "-t", "main", "#{cursor_x} #{cursor_y}"]))
        .trim().split(" ").map(Number);
    const lines = (await tmux(this.socket, ["capture-pane", "-p", "-N", "-t", "main"])).split("\n");
    return (lines[y!] ?? "").padEnd(x!).slice(0, x!);
  }

  /** Waits until the text left of the cursor is exactly `expected` (e.g. `"sockd> "`). */
  async waitForInput(expected: string, ms = 10_000): Promise<void> {
    let seen = "";
    try {
      await waitFor(
        async () => (seen = await this.beforeCursor()) === expected,
        ms,
        JSON.stringify(expected),
      );
    } catch (err) {
      throw new Error(
        `${(err as Error).message}; left of the cursor: ${JSON.stringify(seen)}\n${await this.screen()}`,
      );
    }
  }

  /**
   * Waits until the screen matches `pattern` (a string must appear, a RegExp
   * must match), or throws after `ms` with the screen in the message.
   */
  async waitFor(pattern: string | RegExp, ms = 10_000): Promise<string> {
    let screen = "";
    try {
      await waitFor(
        async () => {
          screen = await this.screen();
          return typeof pattern === "string" ? screen.includes(pattern) : pattern.test(screen);
        },
        ms,
        `${pattern} on the screen`,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; the screen was:\n${screen}`);
    }
    return screen;
  }

  /** Waits until `pattern` appears `count` times on the screen. */
  async waitForCount(pattern: string, count: number, ms = 10_000): Promise<string> {
    return await this.waitFor(new RegExp(`(?:${escape(pattern)}[^]*){${count}}`), ms);
  }

  /** Waits for the program to exit; returns its exit status. */
  async exitStatus(ms = 10_000): Promise<number> {
    let status = "";
    await waitFor(
      async () => {
        const [dead, code] = (await tmux(this.socket, [
          "display-message",
          "-p",
          "-t",
          "main",
          "#{pane_dead} #{pane_dead_status}",
        ])).trim().split(" ");
        status = code ?? "";
        return dead === "1";
      },
      ms,
      "the program to exit",
    );
    return Number(status);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await tmux(this.socket, ["kill-server"]).catch(() => {});
    await Deno.remove(this.socket).catch(() => {});
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
