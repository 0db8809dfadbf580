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
import type { CommandInfo } from "../command.ts";
import { tokenize } from "../dialects/_tokenize.ts";
import { SockdError, Status } from "../errors.ts";
import { Exit, exitCodeFor } from "./exit_codes.ts";
import { colorWanted, errorLine, renderChunk, renderForPeople, type Styles, styles } from "./render.ts";
import { commonPrefix, complete, formatColumns, ServerCatalog } from "./_completion.ts";
import { defaultHistoryPath, History } from "./_history.ts";
import { runPlain } from "./_repl_pipe.ts";
import { KeyDecoder, LineEditor, textWidth } from "./_line_editor.ts";
import { KeyQueue } from "./_key_queue.ts";
import { Hints } from "./_hints.ts";
import { searchHistory } from "./_history_search.ts";
import { type Backoff, Link, type LinkEvent } from "./_link.ts";

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
/** After the server ends a call with 106 unasked, how long to watch for it closing the connection. */
const SHUTDOWN_WATCH_MS = 1000;
/** Time to wait for the server to confirm a cancel before returning to the prompt. */
const CANCEL_GRACE_MS = 2000;

const encoder = new TextEncoder();

/** Runs the REPL until exit; resolves to the exit code. */
export async function runRepl(options: ReplOptions): Promise<number> {
  if (Deno.stdin.isTerminal() && Deno.stdout.isTerminal()) {
    return await new InteractiveRepl(options).run();
  }
  return await runPlain(options);
}

/** The outcome of one call in the interactive REPL. */
type Outcome = "ok" | "failed" | "cancelled" | "lost";

/** The REPL on a terminal. */
class InteractiveRepl {
  #o: ReplOptions;
  #st: Styles;
  #keys = new KeyQueue();
  #history: History | undefined;
  #editor: LineEditor;
  #link: Link;
  #catalog: ServerCatalog;
  #promptActive = false;
  #atLineStart = true;
  #exitArmed = false;
  /** Who we talk to, from the last hello: for the prompt while disconnected too. */
  #server = { name: "sockd", access: "admin" };
  #hints: Hints;

  constructor(options: ReplOptions) {
    this.#o = options;
    this.#st = styles(colorWanted(true));
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
      this.#writeErr(errorLine(e.message));
      return e.status === Status.CANCELLED ? Exit.INTERRUPTED : exitCodeFor(e.status ?? Status.CONN_ERROR);
    }
    const { dim } = this.#st;
    const { server, version, access } = client.server;
    this.#server = { name: server, access: access ?? "admin" };
    this.#line(
      dim(`connected to ${server} ${version} at ${this.#link.path}` + (access ? ` (access: ${access})` : "")),
    );
    this.#line(
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
          this.#notice(this.#st.yellow(`history not saved: ${(err as Error).message}`));
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
          this.#line(
            this.#st.yellow(`no server at ${this.#link.path} yet; waiting for it (Ctrl-C gives up)…`),
          );
        } else if (delayMs >= 1000) {
          this.#line(
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
      this.#writeErr(errorLine(`Cannot read history ${path}: ${(err as Error).message}`));
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
    this.#ensureLineStart();
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
            this.#write("\n");
            return action.line;
          case "eof":
            this.#write("\n");
            return undefined;
          case "interrupt":
            this.#editor.handle({ type: "key", name: "end" });
            this.#draw();
            this.#write("^C\n");
            if (action.line === "") {
              if (this.#exitArmed) return undefined;
              this.#exitArmed = true;
              this.#write(this.#st.dim("(press Ctrl-C again or Ctrl-D to exit)") + "\n");
            }
            this.#editor.reset();
            this.#draw();
            break;
          case "complete":
            await this.#complete();
            break;
          case "clear-screen":
            this.#write("\x1b[H\x1b[2J");
            this.#draw();
            break;
          case "redraw":
            this.#draw();
            break;
          case "bell":
            this.#write("\x07");
            break;
        }
      }
    } finally {
      this.#promptActive = false;
    }
  }

  /** Ctrl-R: searches history; the line to run, or undefined to go on editing. */
  async #search(): Promise<string | undefined> {
    const write = (text: string) => this.#write(text);
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
    this.#write("\n");
    return action.line;
  }

  async #complete() {
    const before = this.#editor.beforeCursor;
    const c = await complete(before, before.length, this.#catalog);
    const from = Array.from(before.slice(0, c.start)).length;
    if (c.candidates.length === 0) {
      this.#write("\x07");
      return;
    }
    if (c.candidates.length === 1) {
      this.#editor.replaceBeforeCursor(from, c.candidates[0]! + " ");
    } else {
      const prefix = commonPrefix(c.candidates);
      if (prefix.length > c.word.length) {
        this.#editor.replaceBeforeCursor(from, prefix);
      } else {
        this.#write("\n" + formatColumns(c.candidates, this.#columns()));
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
      this.#line(this.#st.red(`(error) ${(err as Error).message}`));
      return true;
    }
    if (words.length === 0) return true;
    if (words.length === 1 && LOCAL_EXIT.has(words[0]!)) return false;
    // While the call runs, Ctrl-C cancels it; other keys wait for the next prompt.
    const done = new AbortController();
    const interrupt = new AbortController();
    const watcher = this.#keys.take((k) => k.type === "key" && k.name === "ctrl-c", done.signal).then((k) => {
      if (!k) return;
      this.#write("^C");
      interrupt.abort();
    });
    try {
      await this.#run(words, interrupt.signal);
    } finally {
      done.abort();
      await watcher;
    }
    if (words[0] === "help" && words.length === 1) {
      this.#line(this.#st.dim(
        "(repl: Tab completes, Up/Down recall history, Ctrl-R searches it, Ctrl-C cancels a call, Ctrl-D or quit exits)",
      ));
    }
    return true;
  }

  /** Runs a command; if the connection drops under a persistent one, re-issues it after reconnecting. */
  async #run(words: string[], interrupt: AbortSignal) {
    const [command, ...args] = words as [string, ...string[]];
    while (true) {
      let client: Client;
      try {
        client = await this.#link.get(interrupt);
      } catch (err) {
        if (interrupt.aborted) this.#ensureLineStart();
        else this.#showError(err as SockdError);
        return;
      }
      // Whether it is persistent matters only if the connection drops; ask alongside the call.
      const info = this.#catalog.info(command);
      const { outcome, error } = await this.#callOnce(client, command, args, interrupt);
      if (outcome !== "lost") return;
      if (!(await info)?.persistent) {
        this.#showError(error!);
        return;
      }
      try {
        await this.#link.get(interrupt);
      } catch (err) {
        if (interrupt.aborted) this.#ensureLineStart();
        else this.#showError(err as SockdError);
        return;
      }
      const again: CommandInfo | undefined = await this.#catalog.info(command);
      if (!again?.persistent) {
        this.#notice(
          this.#st.yellow(`not resuming "${command}": the server no longer has it as a persistent command`),
        );
        return;
      }
      this.#notice(this.#st.yellow(`resuming ${words.join(" ")} (persistent)`));
    }
  }

  async #callOnce(
    client: Client,
    command: string,
    args: string[],
    interrupt: AbortSignal,
  ): Promise<{ outcome: Outcome; error?: SockdError }> {
    const call = client.call(command, args, { signal: interrupt });
    const it = call[Symbol.asyncIterator]();
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<"grace">((resolve) => {
      const start = () => graceTimer = setTimeout(() => resolve("grace"), CANCEL_GRACE_MS);
      if (interrupt.aborted) start();
      else interrupt.addEventListener("abort", start, { once: true });
    });
    try {
      while (true) {
        const step = await Promise.race([it.next(), grace]);
        if (step === "grace") {
          // Keep reading so its chunks do not stall the connection; show none of them.
          (async () => {
            while (!(await it.next()).done) { /* discard */ }
          })().catch(() => {});
          this.#ensureLineStart();
          this.#line(
            this.#st.yellow(`(cancel sent; the server did not confirm it within ${CANCEL_GRACE_MS} ms)`),
          );
          return { outcome: "cancelled" };
        }
        if (step.done) break;
        this.#out(renderChunk(step.value));
      }
      this.#out(await renderForPeople(await call.result));
      return { outcome: "ok" };
    } catch (err) {
      const e = err instanceof SockdError ? err : new SockdError(Status.CONN_ERROR, String(err));
      if (interrupt.aborted) {
        this.#ensureLineStart();
        this.#line(this.#st.yellow(`(cancelled${e.remote ? ` ${e.status}` : ""}) ${e.message}`));
        return { outcome: "cancelled", error: e };
      }
      if (!e.remote && e.status === Status.CONN_ERROR) return { outcome: "lost", error: e };
      // A server shutting down cancels calls (106), then closes: that is a lost connection too.
      if (e.remote && e.status === Status.CANCELLED && await closesWithin(client, SHUTDOWN_WATCH_MS)) {
        return { outcome: "lost", error: e };
      }
      this.#showError(e);
      return { outcome: "failed", error: e };
    } finally {
      clearTimeout(graceTimer);
    }
  }

  #onLinkEvent(e: LinkEvent) {
    const { yellow, green, red } = this.#st;
    const path = this.#link.path;
    switch (e.type) {
      case "lost":
        this.#catalog.invalidate();
        this.#notice(yellow(`connection lost: ${lower(e.error.message)}; reconnecting…`));
        break;
      case "retry":
        if (e.delayMs >= 1000) {
          this.#notice(
            yellow(`still no server at ${path} (attempt ${e.attempt}); retrying in ${e.delayMs / 1000} s`),
          );
        }
        break;
      case "reconnected":
        this.#catalog.invalidate();
        this.#hints.clear();
        this.#notice(green(`reconnected to ${path}`));
        break;
      case "gave-up":
        this.#notice(red(
          `gave up reconnecting after ${Math.round(e.elapsedMs / 1000)} s: ${lower(e.error.message)}. ` +
            "The next command tries again.",
        ));
        break;
    }
  }

  #showError(e: SockdError) {
    const label = e.remote ? `(error ${e.status} ${e.code})` : `(error)`;
    this.#line(this.#st.red(`${label} ${e.message}`));
  }

  /** A message on its own line, above the prompt if one is showing. */
  #notice(text: string) {
    if (this.#promptActive) {
      this.#write(`\r\x1b[K${text}\n`);
      this.#draw();
    } else {
      this.#line(text);
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
    const columns = this.#columns();
    const drawn = this.#editor.render(p.text, p.width, columns);
    const atEnd = this.#editor.cursor === Array.from(this.#editor.text).length;
    const hint = this.#promptActive && atEnd ? this.#hints.for(this.#editor.text) : "";
    // The hint goes after the line, dimmed, when the cursor is at its end and it fits.
    const fits = hint && p.width + textWidth(this.#editor.text) + 1 + textWidth(hint) < columns;
    const at = drawn.lastIndexOf("\x1b[K\r");
    this.#write(fits && at >= 0 ? drawn.slice(0, at) + this.#st.dim(hint) + drawn.slice(at) : drawn);
  }

  #columns(): number {
    try {
      return Deno.consoleSize().columns || 80;
    } catch {
      return 80;
    }
  }

  #line(text: string) {
    this.#ensureLineStart();
    this.#write(text + "\n");
  }

  #ensureLineStart() {
    if (!this.#atLineStart) this.#write("\n");
  }

  #write(text: string) {
    this.#out(encoder.encode(text));
  }

  #out(bytes: Uint8Array) {
    if (bytes.length === 0) return;
    writeAllSync(Deno.stdout, bytes);
    this.#atLineStart = bytes[bytes.length - 1] === 0x0a;
  }

  #writeErr(text: string) {
    writeAllSync(Deno.stderr, encoder.encode(text));
  }
}

/** Whether `client`'s connection closes within `ms`. */
async function closesWithin(client: Client, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const result = await Promise.race([
    client.closed.then(() => true),
    new Promise<boolean>((r) => timer = setTimeout(() => r(false), ms)),
  ]);
  clearTimeout(timer);
  return result;
}

function lower(message: string): string {
  return message.length > 0 ? message[0]!.toLowerCase() + message.slice(1) : message;
}

function writeAllSync(file: { writeSync(p: Uint8Array): number }, bytes: Uint8Array) {
  let off = 0;
  while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
}
