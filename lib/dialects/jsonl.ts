/**
 * The JSON lines dialect, for scripts in any language: one JSON object per
 * line each way, answers tagged with the request's id, several calls in
 * flight at once. Bytes travel as `{"$base64": "..."}`. See PROTOCOL.md.
 *
 * @module
 */
import { Status, statusName } from "../errors.ts";
import { fromJsonValue, toJsonValue } from "../json_value.ts";
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
import { simpleCall } from "./_jsonl_call.ts";

const encoder = new TextEncoder();
/** The longest answer tail a connection keeps for reuse (see `JsonlDialect.#lastTail`). */
const MAX_KEPT_TAIL = 128;

class JsonlDialect implements Dialect {
  readonly name = "jsonl";
  readonly concurrent = true;
  #limits: Limits;
  /**
   * The last plain result answered, and what follows the id in its answer: a
   * command answers the same value again and again (`"pong"`), and reusing
   * the text saves its `JSON.stringify` and concatenation (72 -> 29 ns per
   * answer).
   */
  #lastResult: unknown = undefined;
  #lastTail = "";

  constructor(options: DialectOptions) {
    this.#limits = options.limits;
  }

  decoder(): RequestDecoder {
    // Most lines are read from their bytes (see _jsonl_call.ts): their text is decoded only when asked for.
    const lines: LineRequestDecoder = new LineRequestDecoder(
      this.#limits.maxLineBytes,
      (item) => this.#requests(item, lines),
      true,
    );
    return lines;
  }

  encode(event: Event): Uint8Array {
    return encoder.encode(this.encodeText(event));
  }

  encodeText(event: Event): string {
    const raw = event.id ?? null;
    // A finite number reads the same either way; the string concatenation is cheaper.
    const id = typeof raw === "number" && Number.isFinite(raw) ? "" + raw : JSON.stringify(raw);
    try {
      switch (event.type) {
        case "data":
          return `{"id":${id}${field("data", event.chunk)}}\n`;
        case "pong":
          return `{"id":${id},"pong":true}\n`;
        case "end":
          if (event.status === Status.OK) {
            const result = event.result ?? null;
            if (result !== this.#lastResult) {
              const tail = `,"status":0${field("result", result)}}\n`;
              // (Only short ones are kept: a connection holds no large answer between calls.)
              if (!isPlain(result) || tail.length > MAX_KEPT_TAIL) return `{"id":${id}${tail}`;
              this.#lastResult = result;
              this.#lastTail = tail;
            }
            return `{"id":${id}${this.#lastTail}`;
          }
          return `{"id":${id},"status":${event.status},"error":${
            JSON.stringify(event.error ?? "Call failed")
          },"name":${JSON.stringify(statusName(event.status))}${
            event.details ? field("details", event.details) : ""
          }}\n`;
      }
    } catch (err) {
      // A chunk that cannot be sent ends its call (the session does that); a
      // result that cannot be sent is answered as the handler error it is.
      if (event.type !== "end") throw err;
      return JSON.stringify({
        id: event.id ?? null,
        status: Status.HANDLER_ERROR,
        error: `Command returned a result that cannot be sent: ${err instanceof Error ? err.message : err}`,
        name: statusName(Status.HANDLER_ERROR),
      }) + "\n";
    }
  }

  /** The requests one line stands for (none for a blank line). */
  #requests(item: DecodedLine, lines: LineRequestDecoder): Request[] {
    if (item.type === "too-long") {
      return [bad(
        null,
        `Line exceeds the limit of ${item.limit} bytes (dropped up to the next newline)`,
        Status.TOO_LARGE,
      )];
    }
    // The common call, read from its bytes without decoding the line or JSON.parse (see _jsonl_call.ts):
    // server CPU per call with 16 pipelined, pinned, 1.53 -> 1.18 us.
    const call = simpleCall(item.bytes);
    if (call) return [call];
    if (isBlank(item.bytes)) return [];
    let text: string;
    try {
      text = lines.text(item) ?? decodeUtf8(item.bytes);
    } catch {
      return [bad(null, "Line is not valid UTF-8")];
    }
    return parsedRequests(text);
  }
}

/**
 * The requests one line of text stands for, through `JSON.parse`: what
 * every line but the simple calls of `_jsonl_call.ts` takes (exported for
 * the tests that hold the two to the same results).
 */
export function parsedRequests(text: string): Request[] {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch (err) {
    return [bad(null, `Malformed JSON: ${(err as Error).message}`)];
  }
  if (!msg || typeof msg !== "object" || Array.isArray(msg)) {
    return [bad(null, "A request must be a JSON object")];
  }
  return toRequests(msg as Record<string, unknown>);
}

/**
 * `,"name":JSON` for a value a command made, or nothing for a value JSON
 * leaves out (as `JSON.stringify` of the whole message would). Only such
 * values go through {@linkcode toJsonValue} (at depth 1, inside the message),
 * and plain ones not at all: walking and copying every answer cost ~10% of
 * the busy CPU with 16 pipelined JSON lines.
 */
function field(name: string, value: unknown): string {
  const json = JSON.stringify(isPlain(value) ? value : toJsonValue(value, 1));
  return json === undefined ? "" : `,"${name}":${json}`;
}

/** A value JSON writes as it is: null, a string, a number or a boolean. */
function isPlain(value: unknown): boolean {
  return value === null || typeof value === "string" || typeof value === "number" ||
    typeof value === "boolean";
}

/** Whether a line holds only what may surround a request (space, tab, CR). */
function isBlank(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  return true;
}

function isId(v: unknown): v is CallId {
  return (typeof v === "number" && Number.isFinite(v)) || typeof v === "string";
}

function bad(id: CallId, message: string, status: number = Status.BAD_REQUEST): Request {
  return { type: "error", id, status, message, fatal: false };
}

/** Turns one parsed request object into requests, or an error request for a bad one. */
function toRequests(msg: Record<string, unknown>): Request[] {
  const id = isId(msg.id) ? msg.id : null;
  const needId = (what: string) => [bad(null, `${what} needs an "id" (a number or a string)`)];
  if (msg.cancel === true) return id === null ? needId("A cancel") : [{ type: "cancel", id }];
  if (msg.command !== undefined) {
    if (id === null) return needId("A call");
    if (typeof msg.command !== "string") return [bad(id, `"command" must be a string`)];
    const args = msg.args ?? [];
    if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) {
      return [bad(id, `"args" must be an array of strings`)];
    }
    const timeout = msg.timeout;
    if (timeout !== undefined && timeout !== null && !(typeof timeout === "number" && timeout >= 0)) {
      return [bad(id, `"timeout" must be a number of ms`)];
    }
    const call: Request = {
      type: "call",
      id,
      command: msg.command,
      args: args as string[],
      timeoutMs: typeof timeout === "number" ? timeout : undefined,
    };
    if (msg.input === undefined || msg.input === false || msg.input === null) return [call];
    if (msg.input === true) return [{ ...call, input: true }];
    // The whole input, inline: the call, its one chunk, and its end.
    const chunk = inputBytes(msg.input);
    if (!chunk) return [bad(id, `"input" must be true, a string, or {"$base64": "..."}`)];
    return [{ ...call, input: true }, { type: "input", id, chunk }, { type: "input-end", id }];
  }
  if (msg.data !== undefined) {
    if (id === null) return needId("Input data");
    const chunk = inputBytes(msg.data);
    return chunk
      ? [{ type: "input", id, chunk }]
      : [bad(id, `"data" must be a string or {"$base64": "..."}`)];
  }
  if (msg.end === true) return id === null ? needId("An input end") : [{ type: "input-end", id }];
  if (msg.ping === true) return [{ type: "ping", id }];
  return [bad(id, `A request needs "command", or "cancel", "data", "end" or "ping"`)];
}

/** Input given as a string (sent as UTF-8) or as `{"$base64": "..."}`. */
function inputBytes(value: unknown): Uint8Array | undefined {
  if (typeof value === "string") return encoder.encode(value);
  if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 1) {
    const bytes = fromJsonValue(value);
    if (bytes instanceof Uint8Array) return bytes;
  }
  return undefined;
}

/** The JSON lines dialect, detected by a `{` first byte. */
export const jsonlDialect: DialectFactory = {
  name: "jsonl",
  matches: (firstByte) => firstByte === 0x7b,
  create: (options) => new JsonlDialect(options),
};
