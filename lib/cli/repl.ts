/**
 * `sockd repl`: type commands at a running server, as with redis-cli.
 *
 * On a terminal: line editing and history (see {@linkcode LineEditor}),
 * Tab completion from the server's `help --json`, streaming output as it
 * arrives, Ctrl-C to cancel a running call, and reconnection (re-issuing a
 * running `persistent` stream) when the server restarts. When stdin is not
 * a terminal, it reads one command per line and exits at the end of input
 * (`printf 'ping\n' | sockd repl`). Keys and behaviour: docs/CLIENT.md.
 *
 * @module
 */
import type { Client } from "../client.ts";
import { tokenize } from "../dialects/_tokenize.ts";
import { type SockdError, Status } from "../errors.ts";
import { Exit, exitCodeFor } from "./exit_codes.ts";
import { colorWanted, errorLine, type Styles, styles } from "./render.ts";
import { commonPrefix, complete, formatColumns, ServerCatalog } from "./_completion.ts";
import { defaultHistoryPath, History } from "./_history.ts";
import { runPlain } from "./_repl_pipe.ts";
import { KeyDecoder, LineEditor, textWidth } from "./_line_editor.ts";
import { KeyQueue } from "./_key_queue.ts";
import { Hints } from "./_hints.ts";
import { searchHistory } from "./_history_search.ts";
import { type Backoff, Link, type LinkEvent } from "./_link.ts";
import { ReplScreen } from "./_repl_screen.ts";
import { runCommand } from "./_repl_call.ts";

/** Options of {@linkcode runRepl}. */
export interface ReplOptions {
  /** The server's socket path. */
  socket: string;
  /** History file: undefined for the default ({@linkcode defaultHistoryPath}), null for none. */
  historyPath?: string | null;
  /** Pacing of reconnects. */
  backoff?: Partial<Backoff>;
  /** One more uid trusted to own the socket, besides this user and root. */
  trustOwner?: number;
  /** Reach the server another way (`sockd repl --host`: through ssh); `socket` then names it. */
  dial?: (timeoutMs: number) => Promise<Client>;
}

/** Words that end the REPL instead of being sent to the server. */
const LOCAL_EXIT = new Set(["quit", "exit"]);

/** Runs the REPL until exit; resolves to the exit code. */
export async function runRepl(options: ReplOptions): Promise<number> {
  if (Deno.stdin.isTerminal() && Deno.stdout.isTerminal()) {
    return await new InteractiveRepl(options).run();
  }
  return await runPlain(options);
}

/** The REPL on a terminal. */
class InteractiveRepl {
  #o: ReplOptions;
  #st: Styles;
  #keys = new KeyQueue();
  #history: History | undefined;
  #editor: LineEditor;
  #link: Link;
  #catalog: ServerCatalog;
  #screen: ReplScreen;
  #promptActive = false;
  #exitArmed = false;
  /** Who we talk to, from the last hello: for the prompt while disconnected too. */
  #server = { name: "sockd", access: "admin" };
  #hints: Hints;

  constructor(options: ReplOptions) {
    this.#o = options;
    this.#st = styles(colorWanted(true));
    this.#screen = new ReplScreen(this.#st, { active: () => this.#promptActive, draw: () => this.#draw() });
    this.#editor = new LineEditor(() => this.#history?.entries ?? []);
    this.#link = new Link(options.socket, {
      backoff: options.backoff,
      trustOwner: options.trustOwner,
      dial: options.dial,
      onEvent: (e) => this.#onLinkEvent(e),
    });
    this.#catalog = new ServerCatalog(() => this.#link.client);
    this.#hints = new Hints(this.#catalog, () => this.#promptActive && this.#draw());
  }

  async run(): Promise<number> {
    const history = this.#history = await this.#openHistory();
    let client: Client;
    try {
      client = await this.#connectFirst();
    } catch (err) {
      const e = err as SockdError;
      this.#screen.writeErr(errorLine(e.message));
      return e.status === Status.CANCELLED ? Exit.INTERRUPTED : exitCodeFor(e.status ?? Status.CONN_ERROR);
    }
    const { dim } = this.#st;
    const { server, version, access } = client.server;
    this.#server = { name: server, access: access ?? "admin" };
    this.#screen.line(
      dim(`connected to ${server} ${version} at ${this.#link.path}` + (access ? ` (access: ${access})` : "")),
    );
    this.#screen.line(
      dim(
        `"help" lists commands; Tab completes; Ctrl-R searches history; Ctrl-C cancels a call; Ctrl-D exits.`,
      ),
    );

    const signals: [Deno.Signal, () => void][] = [
      ["SIGINT", () => this.#keys.push({ type: "key", name: "ctrl-c" })],
      ["SIGTERM", () => this.#terminate(128 + 15)],
      ["SIGHUP", () => this.#terminate(128 + 1)],
    ];
    for (const [s, h] of signals) Deno.addSignalListener(s, h);
    Deno.stdin.setRaw(true);
    this.#readKeys();
    try {
      while (true) {
        const line = await this.#readLine();
        if (line === undefined) break;
        await history.add(line).catch((err) => {
          this.#screen.notice(this.#st.yellow(`history not saved: ${(err as Error).message}`));
        });
        if (!await this.#execute(line)) break;
      }
    } finally {
      Deno.stdin.setRaw(false);
      for (const [s, h] of signals) Deno.removeSignalListener(s, h);
      this.#link.close();
    }
    return Exit.OK;
  }

  /** The first connection: a server not there yet is waited for, with the reconnect backoff, until Ctrl-C. */
  async #connectFirst(): Promise<Client> {
    const stop = new AbortController();
    const onInt = () => stop.abort();
    Deno.addSignalListener("SIGINT", onInt);
    try {
      return await this.#link.waitForServer(stop.signal, (delayMs, attempt) => {
        if (attempt === 1) {
          this.#screen.line(
            this.#st.yellow(`no server at ${this.#link.path} yet; waiting for it (Ctrl-C gives up)…`),
          );
        } else if (delayMs >= 1000) {
          this.#screen.line(
            this.#st.yellow(`still no server (attempt ${attempt}); retrying in ${delayMs / 1000} s`),
          );
        }
      });
    } finally {
      Deno.removeSignalListener("SIGINT", onInt);
    }
  }

  async #openHistory(): Promise<History> {
    const path = this.#o.historyPath === null ? undefined : this.#o.historyPath ?? defaultHistoryPath();
    try {
      return await History.open(path);
    } catch (err) {
      this.#screen.writeErr(errorLine(`Cannot read history ${path}: ${(err as Error).message}`));
      return await History.open(undefined);
    }
  }

  /** Feeds stdin into the key queue until it ends. */
  async #readKeys() {
    const decoder = new KeyDecoder();
    try {
      for await (const chunk of Deno.stdin.readable) this.#keys.push(...decoder.push(chunk));
    } catch { /* the terminal went away */ }
    this.#keys.push({ type: "end" });
  }

  #terminate(code: number) {
    try {
      Deno.stdin.setRaw(false);
    } catch { /* not a terminal any more */ }
    this.#link.close();
    Deno.exit(code);
  }

  /** Reads one line at the prompt; undefined means exit. */
  async #readLine(): Promise<string | undefined> {
    this.#editor.reset();
    this.#screen.ensureLineStart();
    this.#promptActive = true;
    this.#draw();
    try {
      while (true) {
        const key = (await this.#keys.take())!;
        if (key.type === "key" && key.name === "ctrl-r") {
          const line = await this.#search();
          if (line !== undefined) return line;
          continue;
        }
        const action = this.#editor.handle(key);
        if (action.type !== "interrupt") this.#exitArmed = false;
        switch (action.type) {
          case "submit":
            this.#draw();
            this.#screen.write("\n");
            return action.line;
          case "eof":
            this.#screen.write("\n");
            return undefined;
          case "interrupt":
            this.#editor.handle({ type: "key", name: "end" });
            this.#draw();
            this.#screen.write("^C\n");
            if (action.line === "") {
              if (this.#exitArmed) return undefined;
              this.#exitArmed = true;
              this.#screen.write(this.#st.dim("(press Ctrl-C again or Ctrl-D to exit)") + "\n");
            }
            this.#editor.reset();
            this.#draw();
            break;
          case "complete":
            await this.#complete();
            break;
          case "clear-screen":
            this.#screen.write("\x1b[H\x1b[2J");
            this.#draw();
            break;
          case "redraw":
            this.#draw();
            break;
          case "bell":
            this.#screen.write("\x07");
            break;
        }
      }
    } finally {
      this.#promptActive = false;
    }
  }

  /** Ctrl-R: searches history; the line to run, or undefined to go on editing. */
  async #search(): Promise<string | undefined> {
    const write = (text: string) => this.#screen.write(text);
    const action = await searchHistory(
      this.#history?.entries ?? [],
      async () => (await this.#keys.take())!,
      write,
    );
    if (action.type !== "cancel") {
      this.#editor.reset();
      this.#editor.handle({ type: "text", text: action.line });
    }
    this.#draw();
    if (action.type !== "run") return undefined;
    this.#screen.write("\n");
    return action.line;
  }

  async #complete() {
    const before = this.#editor.beforeCursor;
    const c = await complete(before, before.length, this.#catalog);
    const from = Array.from(before.slice(0, c.start)).length;
    if (c.candidates.length === 0) {
      this.#screen.write("\x07");
      return;
    }
    if (c.candidates.length === 1) {
      this.#editor.replaceBeforeCursor(from, c.candidates[0]! + " ");
    } else {
      const prefix = commonPrefix(c.candidates);
      if (prefix.length > c.word.length) {
        this.#editor.replaceBeforeCursor(from, prefix);
      } else {
        this.#screen.write("\n" + formatColumns(c.candidates, this.#screen.columns()));
      }
    }
    this.#draw();
  }

  /** Runs a line; false means exit. */
  async #execute(line: string): Promise<boolean> {
    let words: string[];
    try {
      words = tokenize(line);
    } catch (err) {
      this.#screen.line(this.#st.red(`(error) ${(err as Error).message}`));
      return true;
    }
    if (words.length === 0) return true;
    if (words.length === 1 && LOCAL_EXIT.has(words[0]!)) return false;
    // While the call runs, Ctrl-C cancels it; other keys wait for the next prompt.
    const done = new AbortController();
    const interrupt = new AbortController();
    const watcher = this.#keys.take((k) => k.type === "key" && k.name === "ctrl-c", done.signal).then((k) => {
      if (!k) return;
      this.#screen.write("^C");
      interrupt.abort();
    });
    try {
      await runCommand(words, interrupt.signal, {
        link: this.#link,
        catalog: this.#catalog,
        screen: this.#screen,
      });
    } finally {
      done.abort();
      await watcher;
    }
    if (words[0] === "help" && words.length === 1) {
      this.#screen.line(this.#st.dim(
        "(repl: Tab completes, Up/Down recall history, Ctrl-R searches it, Ctrl-C cancels a call, Ctrl-D or quit exits)",
      ));
    }
    return true;
  }

  #onLinkEvent(e: LinkEvent) {
    const { yellow, green, red } = this.#st;
    const path = this.#link.path;
    switch (e.type) {
      case "lost":
        this.#catalog.invalidate();
        this.#screen.notice(yellow(`connection lost: ${lower(e.error.message)}; reconnecting…`));
        break;
      case "retry":
        if (e.delayMs >= 1000) {
          this.#screen.notice(
            yellow(`still no server at ${path} (attempt ${e.attempt}); retrying in ${e.delayMs / 1000} s`),
          );
        }
        break;
      case "reconnected":
        this.#catalog.invalidate();
        this.#hints.clear();
        this.#screen.notice(green(`reconnected to ${path}`));
        break;
      case "gave-up":
        this.#screen.notice(red(
          `gave up reconnecting after ${Math.round(e.elapsedMs / 1000)} s: ${lower(e.error.message)}. ` +
            "The next command tries again.",
        ));
        break;
    }
  }

  #prompt(): { text: string; width: number } {
    const state = this.#link.client ? "" : this.#link.reconnecting ? " (reconnecting)" : " (disconnected)";
    const { name, access } = this.#server;
    const plain = `${name}${access === "admin" ? "" : `(${access})`}${state}> `;
    return { text: this.#st.bold(plain), width: textWidth(plain) };
  }

  #draw() {
    const p = this.#prompt();
    const columns = this.#screen.columns();
    const drawn = this.#editor.render(p.text, p.width, columns);
    const atEnd = this.#editor.cursor === Array.from(this.#editor.text).length;
    const hint = this.#promptActive && atEnd ? this.#hints.for(this.#editor.text) : "";
    // The hint goes after the line, dimmed, when the cursor is at its end and it fits.
    const fits = hint && p.width + textWidth(this.#editor.text) + 1 + textWidth(hint) < columns;
    const at = drawn.lastIndexOf("\x1b[K\r");
    this.#screen.write(fits && at >= 0 ? drawn.slice(0, at) + this.#st.dim(hint) + drawn.slice(at) : drawn);
  }
}

function lower(message: string): string {
  return message.length > 0 ? message[0]!.toLowerCase() + message.slice(1) : message;
}
