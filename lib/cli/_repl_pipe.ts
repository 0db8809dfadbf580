/**
 * `sockd repl` when stdin is not a terminal (`printf 'ping\n' | sockd repl`):
 * one command per line, output as plain text, no prompt, no line editing.
 *
 * @module
 */
import type { Client } from "../client.ts";
import { tokenize } from "../dialects/_tokenize.ts";
import { type SockdError, Status } from "../errors.ts";
import { callOn } from "./call.ts";
import { Exit, exitCodeFor } from "./exit_codes.ts";
import { errorLine } from "./render.ts";
import { inputLines } from "./_input_lines.ts";
import { Link } from "./_link.ts";
import type { ReplOptions } from "./repl.ts";

/** Words that end the REPL instead of being sent to the server. */
const LOCAL_EXIT = new Set(["quit", "exit"]);
/** Longest line read when stdin is not a terminal. */
const MAX_INPUT_LINE = 1024 * 1024;

const encoder = new TextEncoder();

/**
 * Reads commands line by line from a non-terminal stdin. Blank lines and
 * `#` comments are skipped; `quit`/`exit` stop. The exit code is 0 when every
 * command succeeded, else the code of the last one that failed.
 */
export async function runPlain(options: ReplOptions): Promise<number> {
  const stdout = Deno.stdout.writable.getWriter();
  const stderr = (text: string) => void writeAllSync(Deno.stderr, encoder.encode(text));
  const link = new Link(options.socket, {
    autoReconnect: false,
    trustOwner: options.trustOwner,
    dial: options.dial,
  });
  const interrupt = new AbortController();
  const onInt = () => interrupt.abort();
  Deno.addSignalListener("SIGINT", onInt);
  let code: number = Exit.OK;
  const interrupted = new Promise<"interrupted">((r) =>
    interrupt.signal.addEventListener("abort", () => r("interrupted"), { once: true })
  );
  const lines = inputLines(Deno.stdin.readable, MAX_INPUT_LINE);
  try {
    while (true) {
      const next = await Promise.race([lines.next(), interrupted]);
      if (next === "interrupted") return Exit.INTERRUPTED;
      if (next.done) break;
      const item = next.value;
      if ("tooLong" in item) {
        stderr(errorLine(`Line longer than ${item.tooLong} bytes skipped`));
        code = Exit.USAGE;
        continue;
      }
      const line = item.line.trim();
      if (line === "" || line.startsWith("#")) continue;
      let words: string[];
      try {
        words = tokenize(line);
      } catch (err) {
        stderr(errorLine(`${(err as Error).message} in: ${line}`));
        code = Exit.USAGE;
        continue;
      }
      if (words.length === 1 && LOCAL_EXIT.has(words[0]!)) break;
      let client: Client;
      try {
        client = await link.get(interrupt.signal);
      } catch (err) {
        if (interrupt.signal.aborted) return Exit.INTERRUPTED;
        const e = err as SockdError;
        stderr(errorLine(e.message));
        code = exitCodeFor(e.status ?? Status.CONN_ERROR);
        continue;
      }
      const [command, ...args] = words;
      const got = await callOn(client, command!, args, { json: false }, { stdout, stderr }, interrupt.signal);
      if (got === Exit.INTERRUPTED || got === Exit.BROKEN_PIPE) return got;
      if (got !== Exit.OK) code = got;
    }
    return code;
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    link.close();
    await stdout.ready.catch(() => {});
    stdout.releaseLock();
  }
}

function writeAllSync(file: { writeSync(p: Uint8Array): number }, bytes: Uint8Array) {
  let off = 0;
  while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
}
