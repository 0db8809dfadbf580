/**
 * The text dialect, for people and for `nc`, `socat` and `rlwrap`: one command
 * per line with shell-like quoting, output written as it is produced, errors
 * as `error NNN: message` lines. Calls run one at a time, in order. See
 * PROTOCOL.md.
 *
 * @module
 */
import { concatBytes } from "../_bytes.ts";
import type { Chunk } from "../command.ts";
import { Status } from "../errors.ts";
import { toJsonValue } from "../json_value.ts";
import type { Limits } from "../limits.ts";
import type {
  CallId,
  Dialect,
  DialectFactory,
  DialectOptions,
  Event,
  Request,
  RequestDecoder,
} from "./dialect.ts";
import { type DecodedLine, decodeUtf8, LineRequestDecoder } from "./_line_decoder.ts";
import { tokenizeCommands } from "./_tokenize.ts";

/** What prompt mode shows when the server waits for a command. */
export const TEXT_PROMPT = "sockd> ";

/**
 * The id of the ping the dialect sends itself after a meta-command or a blank
 * line, so that the session's pong lets it write the prompt in order with
 * everything else. Not a string a client can send: text calls have no ids.
 */
const PROMPT_PING_ID = "\u0000prompt";

const LF = 0x0a;
const DOT = 0x2e;
const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

class TextDialect implements Dialect {
  readonly name = "text";
  readonly concurrent = false;
  #limits: Limits;
  #nextId = 1;
  #prompt = false;
  /** `prompt framed`: no prompt; output lines starting with `.` get another, and each answer ends with a `.` line. */
  #framed = false;
  /** Calls followed by another on the same line (`a; b`): their answers get no prompt. */
  #midLine: Set<CallId> | undefined;
  /** Whether the output so far ends a line (or is empty, or ends with the prompt). */
  #atLineStart = true;
  /** Whether the last thing written was a bytes chunk (never given a newline after). */
  #lastWasBytes = false;

  constructor(options: DialectOptions) {
    this.#limits = options.limits;
    const r = options.resume;
    if (r) {
      this.#prompt = r.prompt === true;
      this.#framed = r.framed === true;
      this.#atLineStart = r.atLineStart !== false;
      this.#lastWasBytes = r.lastWasBytes === true;
      if (Number.isSafeInteger(r.nextId) && (r.nextId as number) > 0) this.#nextId = r.nextId as number;
      if (this.#framed) this.dataHeader = undefined;
    }
  }

  state(): Record<string, unknown> {
    return {
      prompt: this.#prompt,
      framed: this.#framed,
      atLineStart: this.#atLineStart,
      lastWasBytes: this.#lastWasBytes,
      nextId: this.#nextId,
    };
  }

  decoder(): RequestDecoder {
    return new LineRequestDecoder(this.#limits.maxLineBytes, (item) => this.#requests(item));
  }

  /** Bytes chunks go out as they are, nothing before them; framed, they are encoded (lines starting with `.` change). */
  dataHeader?: (id: CallId, chunk: Uint8Array) => Uint8Array = this.#verbatim;

  #verbatim(_id: CallId, chunk: Uint8Array): Uint8Array {
    this.#write(chunk, true);
    return EMPTY;
  }

  encode(event: Event): Uint8Array {
    const out = this.encodeText(event);
    return typeof out === "string" ? encoder.encode(out) : out;
  }

  /** Text unless bytes are part of the answer (a bytes chunk or result, or dot-stuffed framed output). */
  encodeText(event: Event): string | Uint8Array {
    switch (event.type) {
      case "data":
        return this.#data(event.chunk);
      case "end":
        return this.#end(event);
      case "pong":
        if (event.id !== PROMPT_PING_ID) return "";
        return this.#framed ? this.#write(".\n", false) : this.#prompt ? this.#promptText() : "";
    }
  }

  /** The requests one line stands for (none for a blank line). */
  #requests(item: DecodedLine): Request[] {
    if (item.type === "too-long") {
      return [this.#error(
        Status.TOO_LARGE,
        `Line exceeds the limit of ${item.limit} bytes (dropped up to the next newline)`,
      )];
    }
    let line: string;
    try {
      line = item.text ?? decodeUtf8(item.bytes);
    } catch {
      return [this.#error(Status.BAD_REQUEST, "Line is not valid UTF-8")];
    }
    // A line starting with a printable ASCII character other than `#` is no comment: no trimmed copy.
    const first = line.charCodeAt(0);
    if ((first === 0x23 || !(first > 0x20 && first < 0x7f)) && line.trimStart().startsWith("#")) {
      return this.#idle();
    }
    let commands: string[][];
    try {
      commands = tokenizeCommands(line);
    } catch (err) {
      return [this.#error(Status.BAD_REQUEST, (err as Error).message)];
    }
    if (commands.length === 0) return this.#idle();
    const requests = commands.length === 1
      ? this.#command(commands[0]!)
      : commands.flatMap((w) => this.#command(w));
    // Only the last answer of a line shows the prompt, as HAProxy's socket does.
    for (let i = 0; i < requests.length - 1; i++) {
      const req = requests[i]!;
      if (req.type === "call") (this.#midLine ??= new Set()).add(req.id);
    }
    return requests;
  }

  /** The requests of one command of a line. */
  #command([first, ...rest]: string[]): Request[] {
    switch (first) {
      case undefined:
        return [];
      case "quit":
        return [{ type: "quit" }];
      case "prompt": {
        const how = rest.length === 0 ? "toggle" : rest.length === 1 ? rest[0] : undefined;
        if (how !== "toggle" && how !== "on" && how !== "off" && how !== "framed") {
          return [
            this.#error(
              Status.BAD_ARGS,
              "prompt takes on, off, framed or nothing (usage: prompt [on|off|framed])",
            ),
          ];
        }
        this.#prompt = how === "toggle" ? !(this.#prompt || this.#framed) : how !== "off";
        this.#framed = how === "framed";
        this.dataHeader = this.#framed ? undefined : this.#verbatim;
        return [{ type: "ping", id: PROMPT_PING_ID }];
      }
      case "oneshot": {
        const [command, ...args] = rest;
        if (command === undefined) {
          return [
            this.#error(Status.BAD_ARGS, "Missing command after oneshot (usage: oneshot COMMAND [ARGS...])"),
            { type: "quit" },
          ];
        }
        return [this.#call(command, args), { type: "quit" }];
      }
      default:
        return [this.#call(first, rest)];
    }
  }

  #call(command: string, args: string[]): Request {
    return { type: "call", id: this.#nextId++, command, args };
  }

  #error(status: number, message: string): Request {
    return { type: "error", id: null, status, message, fatal: false };
  }

  /** A line with no command: in prompt mode, show the prompt again. */
  #idle(): Request[] {
    return this.#prompt && !this.#framed ? [{ type: "ping", id: PROMPT_PING_ID }] : [];
  }

  #data(chunk: Chunk): Part {
    if (chunk instanceof Uint8Array) return this.#write(this.#stuff(chunk), true);
    if (typeof chunk === "string") return this.#write(this.#stuff(chunk), false);
    return this.#write(this.#stuff(JSON.stringify(toJsonValue(chunk)) + "\n"), false);
  }

  /** Framed: a line of output that starts with `.` gets another `.` in front (SMTP's dot-stuffing). */
  #stuff(part: Part): Part {
    if (!this.#framed) return part;
    const bytes = typeof part === "string" ? encoder.encode(part) : part;
    const at: number[] = [];
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] === DOT && (i === 0 ? this.#atLineStart : bytes[i - 1] === LF)) at.push(i);
    }
    if (at.length === 0) return bytes;
    const out = new Uint8Array(bytes.length + at.length);
    let from = 0;
    for (const [n, i] of at.entries()) {
      out.set(bytes.subarray(from, i), from + n);
      out[i + n] = DOT;
      from = i;
    }
    out.set(bytes.subarray(from), from + at.length);
    return out;
  }

  #end(event: Extract<Event, { type: "end" }>): Part {
    const parts: Part[] = [];
    const last = !this.#midLine?.delete(event.id);
    if (this.#framed) {
      const result = event.status === Status.OK ? this.#result(event.result, event.id) : undefined;
      if (result) {
        this.#newLine(parts);
        parts.push(this.#write(this.#stuff(result.bytes), result.isBytes));
      }
      this.#newLine(parts);
      const end = event.status === Status.OK ? ".\n" : "." + errorLine(event.status, event.error);
      parts.push(this.#write(end, false));
      return concat(parts);
    }
    if (event.status === Status.OK) {
      const result = this.#result(event.result, event.id);
      if (result) {
        this.#newLine(parts);
        parts.push(this.#write(result.bytes, result.isBytes));
      } else if (!this.#lastWasBytes) {
        this.#newLine(parts);
      }
    } else {
      this.#newLine(parts);
      parts.push(this.#write(errorLine(event.status, event.error), false));
    }
    if (this.#prompt && last) {
      this.#newLine(parts);
      parts.push("\n", this.#promptText());
    }
    return concat(parts);
  }

  /** Ends the line the output is on, if it is not at the start of one. */
  #newLine(parts: Part[]) {
    if (!this.#atLineStart) parts.push(this.#write("\n", false));
  }

  /** How a result is written: a string as a line, bytes as-is, anything else as a JSON line. */
  #result(result: unknown, id: CallId): { bytes: Part; isBytes: boolean } | undefined {
    if (result === undefined || result === null) return undefined;
    if (result instanceof Uint8Array) return result.length ? { bytes: result, isBytes: true } : undefined;
    if (typeof result === "string") {
      return { bytes: result.endsWith("\n") ? result : result + "\n", isBytes: false };
    }
    let json: string;
    try {
      json = JSON.stringify(toJsonValue(result));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return {
        bytes: errorLine(Status.HANDLER_ERROR, `Call ${id} returned a result that cannot be sent: ${why}`),
        isBytes: false,
      };
    }
    return { bytes: json + "\n", isBytes: false };
  }

  #promptText(): string {
    const text = (this.#atLineStart ? "" : "\n") + TEXT_PROMPT;
    // What the person types next starts after the prompt.
    this.#atLineStart = true;
    this.#lastWasBytes = false;
    return text;
  }

  /** Notes what `part` leaves the output ending with, and returns it. */
  #write<P extends Part>(part: P, isBytes: boolean): P {
    if (part.length > 0) {
      this.#atLineStart = typeof part === "string" ? part.endsWith("\n") : part[part.length - 1] === LF;
      this.#lastWasBytes = isBytes;
    }
    return part;
  }
}

/** One line a person can read and a script can match: `error 101: Unknown command "x"`. */
function errorLine(status: number, message: string | undefined): string {
  const text = (message ?? "Call failed").replace(/\s*[\r\n]+\s*/g, " ").trim();
  return `error ${status}: ${text}\n`;
}

/** Output: text, or bytes where a command's bytes (or dot-stuffing) are part of it. */
type Part = string | Uint8Array;

/** The parts as one text, or as bytes when any of them is bytes. */
function concat(parts: Part[]): Part {
  if (parts.length === 1) return parts[0]!;
  if (parts.every((p) => typeof p === "string")) return parts.join("");
  return concatBytes(parts.map((p) => typeof p === "string" ? encoder.encode(p) : p));
}

/** The text dialect: the fallback for any connection that is neither msgpack nor JSON lines. */
export const textDialect: DialectFactory = {
  name: "text",
  matches: () => true,
  create: (options) => new TextDialect(options),
};
