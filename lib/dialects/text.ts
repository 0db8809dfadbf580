/**
 * The text dialect, for people and for `nc`, `socat` and `rlwrap`: one command
 * per line with shell-like quoting, output written as it is produced, errors
 * as `error NNN: message` lines. Calls run one at a time, in order. See
 * PROTOCOL.md.
 *
 * @module
 */
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
import type { LineItem } from "./_line_reader.ts";
import { LineRequestDecoder } from "./_line_decoder.ts";
import { tokenize } from "./_tokenize.ts";

/** What prompt mode shows when the server waits for a command. */
export const TEXT_PROMPT = "sockd> ";

/**
 * The id of the ping the dialect sends itself after a meta-command or a blank
 * line, so that the session's pong lets it write the prompt in order with
 * everything else. Not a string a client can send: text calls have no ids.
 */
const PROMPT_PING_ID = "\u0000prompt";

const LF = 0x0a;
const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

class TextDialect implements Dialect {
  readonly name = "text";
  readonly concurrent = false;
  #limits: Limits;
  #utf8 = new TextDecoder("utf-8", { fatal: true });
  #nextId = 1;
  #prompt = false;
  /** Whether the output so far ends a line (or is empty, or ends with the prompt). */
  #atLineStart = true;
  /** Whether the last thing written was a bytes chunk (never given a newline after). */
  #lastWasBytes = false;

  constructor(options: DialectOptions) {
    this.#limits = options.limits;
  }

  decoder(): RequestDecoder {
    return new LineRequestDecoder(this.#limits.maxLineBytes, (item) => this.#requests(item));
  }

  /** Bytes chunks go out as they are: nothing before them. */
  dataHeader(_id: CallId, chunk: Uint8Array): Uint8Array {
    this.#write(chunk, true);
    return EMPTY;
  }

  encode(event: Event): Uint8Array {
    switch (event.type) {
      case "data":
        return this.#data(event.chunk);
      case "end":
        return this.#end(event);
      case "pong":
        return event.id === PROMPT_PING_ID && this.#prompt ? this.#promptBytes() : EMPTY;
    }
  }

  /** The requests one line stands for (none for a blank line). */
  #requests(item: LineItem): Request[] {
    if (item.type === "too-long") {
      return [this.#error(
        Status.TOO_LARGE,
        `Line exceeds the limit of ${item.limit} bytes (dropped up to the next newline)`,
      )];
    }
    let line: string;
    try {
      line = this.#utf8.decode(item.bytes);
    } catch {
      return [this.#error(Status.BAD_REQUEST, "Line is not valid UTF-8")];
    }
    if (line.trimStart().startsWith("#")) return this.#idle();
    let words: string[];
    try {
      words = tokenize(line);
    } catch (err) {
      return [this.#error(Status.BAD_REQUEST, (err as Error).message)];
    }
    const [first, ...rest] = words;
    switch (first) {
      case undefined:
        return this.#idle();
      case "quit":
        return [{ type: "quit" }];
      case "prompt": {
        const how = rest.length === 0 ? "toggle" : rest.length === 1 ? rest[0] : undefined;
        if (how !== "toggle" && how !== "on" && how !== "off") {
          return [this.#error(Status.BAD_ARGS, "prompt takes on, off or nothing (usage: prompt [on|off])")];
        }
        this.#prompt = how === "toggle" ? !this.#prompt : how === "on";
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
    return this.#prompt ? [{ type: "ping", id: PROMPT_PING_ID }] : [];
  }

  #data(chunk: Chunk): Uint8Array {
    if (chunk instanceof Uint8Array) return this.#write(chunk, true);
    if (typeof chunk === "string") return this.#write(encoder.encode(chunk), false);
    return this.#write(encoder.encode(JSON.stringify(toJsonValue(chunk)) + "\n"), false);
  }

  #end(event: Extract<Event, { type: "end" }>): Uint8Array {
    const parts: Uint8Array[] = [];
    const newLine = () => {
      if (!this.#atLineStart) parts.push(this.#write(encoder.encode("\n"), false));
    };
    if (event.status === Status.OK) {
      const result = this.#result(event.result, event.id);
      if (result) {
        newLine();
        parts.push(this.#write(result.bytes, result.isBytes));
      } else if (!this.#lastWasBytes) {
        newLine();
      }
    } else {
      newLine();
      parts.push(this.#write(encoder.encode(errorLine(event.status, event.error)), false));
    }
    if (this.#prompt) {
      newLine();
      parts.push(encoder.encode("\n"), this.#promptBytes());
    }
    return concat(parts);
  }

  /** How a result is written: a string as a line, bytes as-is, anything else as a JSON line. */
  #result(result: unknown, id: CallId): { bytes: Uint8Array; isBytes: boolean } | undefined {
    if (result === undefined || result === null) return undefined;
    if (result instanceof Uint8Array) return result.length ? { bytes: result, isBytes: true } : undefined;
    if (typeof result === "string") {
      return { bytes: encoder.encode(result.endsWith("\n") ? result : result + "\n"), isBytes: false };
    }
    let json: string;
    try {
      json = JSON.stringify(toJsonValue(result));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return {
        bytes: encoder.encode(
          errorLine(Status.HANDLER_ERROR, `Call ${id} returned a result that cannot be sent: ${why}`),
        ),
        isBytes: false,
      };
    }
    return { bytes: encoder.encode(json + "\n"), isBytes: false };
  }

  #promptBytes(): Uint8Array {
    const bytes = encoder.encode((this.#atLineStart ? "" : "\n") + TEXT_PROMPT);
    // What the person types next starts after the prompt.
    this.#atLineStart = true;
    this.#lastWasBytes = false;
    return bytes;
  }

  /** Notes what `bytes` leave the output ending with, and returns them. */
  #write(bytes: Uint8Array, isBytes: boolean): Uint8Array {
    if (bytes.length > 0) {
      this.#atLineStart = bytes[bytes.length - 1] === LF;
      this.#lastWasBytes = isBytes;
    }
    return bytes;
  }
}

/** One line a person can read and a script can match: `error 101: Unknown command "x"`. */
function errorLine(status: number, message: string | undefined): string {
  const text = (message ?? "Call failed").replace(/\s*[\r\n]+\s*/g, " ").trim();
  return `error ${status}: ${text}\n`;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** The text dialect: the fallback for any connection that is neither msgpack nor JSON lines. */
export const textDialect: DialectFactory = {
  name: "text",
  matches: () => true,
  create: (options) => new TextDialect(options),
};
