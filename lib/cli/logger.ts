/**
 * The CLI's logger: leveled lines on stderr, as text or JSON (for journald).
 *
 * @module
 */
import { LOG_LEVELS, type LogFields, type Logger, type LogLevel } from "../log.ts";

/** Output format of log lines. */
export type LogFormat = "text" | "json";

/** A logger whose level can change while it runs. */
export interface StderrLogger extends Logger {
  level: LogLevel;
}

const encoder = new TextEncoder();

/** Parses a log level name, or throws a message listing the valid ones. */
export function parseLogLevel(name: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(name)) return name as LogLevel;
  throw new Error(`Unknown log level "${name}" (use ${LOG_LEVELS.join(", ")})`);
}

/** A logger writing to stderr (or `write`, for tests). */
export function stderrLogger(
  level: LogLevel,
  format: LogFormat,
  write: (line: string) => void = (l) => Deno.stderr.writeSync(encoder.encode(l)),
): StderrLogger {
  const logger: StderrLogger = {
    level,
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
  function emit(lvl: LogLevel, msg: string, fields: LogFields = {}) {
    if (LOG_LEVELS.indexOf(lvl) < LOG_LEVELS.indexOf(logger.level)) return;
    const ts = new Date().toISOString();
    if (format === "json") {
      // The logger's own keys come last: a field cannot pass for them.
      write(JSON.stringify({ ...fields, ts, level: lvl, msg }) + "\n");
      return;
    }
    const kv = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === "string" && !/\s|"/.test(v) ? v : JSON.stringify(v)}`)
      .join(" ");
    write(`${ts} ${lvl.toUpperCase().padEnd(5)} ${msg}${kv ? " " + kv : ""}\n`);
  }
  return logger;
}
