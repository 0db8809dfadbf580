/**
 * The logger interface library code logs through; the CLI supplies one that
 * writes to stderr. Library code never prints.
 *
 * @module
 */

/** Log levels, most verbose first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** What sockd logs through. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** A logger that drops everything: the default for library users. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Returns a logger that adds `fields` to every line of `base`. */
export function childLogger(base: Logger, fields: LogFields): Logger {
  return {
    debug: (m, f) => base.debug(m, { ...fields, ...f }),
    info: (m, f) => base.info(m, { ...fields, ...f }),
    warn: (m, f) => base.warn(m, { ...fields, ...f }),
    error: (m, f) => base.error(m, { ...fields, ...f }),
  };
}
