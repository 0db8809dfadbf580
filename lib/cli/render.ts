/**
 * How call output is shown: human form (chunks as they come, then the
 * result) and `--json` form (one JSON object per event).
 *
 * @module
 */
import type { SockdError } from "../errors.ts";
// Not lib/json_value.ts: that one imports node:buffer, ~7 ms of a cold `sockd call`.
import { toJsonValue } from "../_to_json_value.ts";

const encoder = new TextEncoder();

/** Bytes for one data chunk in human form: text and bytes as-is, values as JSON lines. */
export function renderChunk(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return encoder.encode(chunk);
  return encoder.encode(JSON.stringify(toJsonValue(chunk)) + "\n");
}

/** Bytes for a result in human form: strings as a line, other values as indented JSON. */
export function renderResult(result: unknown): Uint8Array {
  if (result === undefined || result === null) return new Uint8Array(0);
  if (result instanceof Uint8Array) return result;
  if (typeof result === "string") {
    return encoder.encode(result.endsWith("\n") || result === "" ? result : result + "\n");
  }
  return encoder.encode(JSON.stringify(toJsonValue(result), null, 2) + "\n");
}

/**
 * A result for people on a terminal: a structured one as tables and
 * `key: value` lines (see human.ts, loaded only then), anything else as
 * {@linkcode renderResult} writes it.
 */
export async function renderForPeople(result: unknown): Promise<Uint8Array> {
  if (typeof result !== "object" || result === null || result instanceof Uint8Array) {
    return renderResult(result);
  }
  // A computed specifier: `deno run` reads the module graph behind every literal import() before
  // it starts, and this one (cli-table3, from npm) is needed only on a terminal. build.ts compiles
  // lib/ in with --include.
  const human = new URL("./human.ts", import.meta.url).href;
  const { renderHuman } = await import(human) as typeof import("./human.ts");
  return encoder.encode(renderHuman(result) + "\n");
}

/** One `--json` line for a data chunk. */
export function jsonData(chunk: unknown): Uint8Array {
  return encoder.encode(JSON.stringify({ data: toJsonValue(chunk) }) + "\n");
}

/** One `--json` line for the end of a call. */
export function jsonEnd(result: unknown, error?: SockdError): Uint8Array {
  const obj = error
    ? {
      status: error.status,
      name: error.code,
      error: error.message,
      ...(error.details ? { details: error.details } : {}),
    }
    : { status: 0, result: toJsonValue(result ?? null) };
  return encoder.encode(JSON.stringify(obj) + "\n");
}

/**
 * The one stderr line for an error: `sockd: unknown command "pnig" (did you mean "ping"?)`.
 * Control characters are shown escaped (`\n`, `\x1b`): a message may be the server's
 * words, which must neither add lines to stderr nor drive the terminal.
 */
export function errorLine(message: string): string {
  const text = message.length > 0 ? message[0]!.toLowerCase() + message.slice(1) : "failed";
  return `sockd: ${text.replace(CONTROL, escapeControl)}\n`;
}

/** C0 controls but tab, DEL and C1 controls: all but tab, printable ASCII and U+00A0 on. */
const CONTROL = /[^\t -~\u00a0-\u{10ffff}]/gu;

function escapeControl(c: string): string {
  if (c === "\n") return "\\n";
  if (c === "\r") return "\\r";
  return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
}

/** Wraps text in terminal colours, or leaves it plain. */
export interface Styles {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  green(text: string): string;
}

/**
 * Whether to colour output written to a terminal: not when `NO_COLOR` is set
 * to anything but the empty string (no-color.org), nor for `TERM=dumb`.
 */
export function colorWanted(isTerminal: boolean): boolean {
  if (!isTerminal) return false;
  const env = (name: string) => {
    try {
      return Deno.env.get(name);
    } catch {
      return undefined; // not granted: assume unset
    }
  };
  const noColor = env("NO_COLOR");
  if (noColor !== undefined && noColor !== "") return false;
  return env("TERM") !== "dumb";
}

/** Colour functions, or identity functions when `enabled` is false. */
export function styles(enabled: boolean): Styles {
  const sgr = (open: number, close: number) => (text: string) =>
    enabled ? `\x1b[${open}m${text}\x1b[${close}m` : text;
  return {
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    yellow: sgr(33, 39),
    green: sgr(32, 39),
  };
}
