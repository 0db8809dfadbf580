/**
 * A plugin's log lines, as the server writes them: the server stamps time,
 * level, plugin and command; the plugin's own fields are nested under
 * `fields` so they cannot pass for the server's; control characters in its
 * text are escaped so a message cannot forge a line of its own; and the
 * rate limit is kept here, where the plugin cannot reach it.
 *
 * @module
 */
import type { LogFields, Logger, LogLevel } from "../log.ts";

/** Longest message or output line kept, in characters. */
const MAX_TEXT = 2048;
/** Longest a plugin's fields may be, as JSON, before they are cut. */
const MAX_FIELDS = 4096;

/** Escapes what could break a log line: newlines, escapes, other control characters. */
export function oneLine(text: string): string {
  const escaped = text.replace(
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001f\u007f]/g,
    (c) => c === "\t" ? " " : JSON.stringify(c).slice(1, -1),
  );
  return escaped.length > MAX_TEXT ? escaped.slice(0, MAX_TEXT) + "…" : escaped;
}

/** `fields`, or, when they are larger than MAX_FIELDS as JSON, their start and their size. */
function bounded(fields: LogFields): LogFields {
  let text: string;
  try {
    text = JSON.stringify(fields);
  } catch {
    return { unencodable: true };
  }
  return text.length <= MAX_FIELDS ? fields : { truncated: text.slice(0, MAX_FIELDS), bytes: text.length };
}

/**
 * The log of one plugin file.
 *
 * @example
 * ```ts
 * import { HostLog } from "./host_log.ts";
 * const lines: [string, Record<string, unknown> | undefined][] = [];
 * const sink = { debug() {}, info: (m: string, f?: Record<string, unknown>) => void lines.push([m, f]), warn() {}, error() {} };
 * const log = new HostLog("evil.ts", sink, 200);
 * log.line("info", "hi\nFORGED", { level: "error", plugin: "other.ts" });
 * console.assert(lines[0]![0] === "hi\\nFORGED");
 * console.assert(lines[0]![1]!.plugin === "evil.ts");
 * console.assert((lines[0]![1]!.fields as Record<string, unknown>).level === "error");
 * ```
 */
export class HostLog {
  #plugin: string;
  #logger: Logger;
  #perSecond: number;
  #left: number;
  #windowStart = 0;
  #dropped = 0;
  #report: ReturnType<typeof setTimeout> | undefined;

  constructor(plugin: string, logger: Logger, perSecond: number) {
    this.#plugin = plugin;
    this.#logger = logger;
    this.#perSecond = perSecond;
    this.#left = perSecond;
  }

  /** A line the plugin logged (through `ctx.log` or `console`), to `callLog` when it belongs to a call. */
  line(level: LogLevel, msg: string, fields?: LogFields, callLog?: Logger): void {
    if (!this.#take()) return;
    const out: LogFields = { plugin: this.#plugin };
    if (fields && Object.keys(fields).length > 0) out.fields = bounded(fields);
    (callLog ?? this.#logger)[level](oneLine(msg), out);
  }

  /** A line the host wrote to stderr. */
  output(line: string): void {
    if (!line.trim() || !this.#take()) return;
    this.#logger.warn("Plugin output", { plugin: this.#plugin, stream: "stderr", line: oneLine(line) });
  }

  #take(): boolean {
    const now = Date.now();
    if (now - this.#windowStart >= 1000) {
      this.#flushDropped();
      this.#windowStart = now;
      this.#left = this.#perSecond;
    }
    if (this.#left <= 0) {
      if (this.#dropped++ === 0) {
        // Said at the end of the window, even if the plugin goes quiet.
        this.#report = setTimeout(() => this.#flushDropped(), this.#windowStart + 1000 - now);
        Deno.unrefTimer(this.#report);
      }
      return false;
    }
    this.#left--;
    return true;
  }

  #flushDropped() {
    clearTimeout(this.#report);
    if (this.#dropped === 0) return;
    this.#logger.warn("Plugin log lines dropped: over the rate limit", {
      plugin: this.#plugin,
      dropped: this.#dropped,
      perSecond: this.#perSecond,
    });
    this.#dropped = 0;
  }
}
