/**
 * The server's log of calls (an audit trail of commands that change things)
 * and the `log-level` built-in's effect on the logger.
 *
 * @module
 */
import type { CallRecord } from "./dispatcher.ts";
import { SockdError, Status } from "./errors.ts";
import { LOG_LEVELS, type Logger, type LogLevel } from "./log.ts";
import type { Registry } from "./registry.ts";

/**
 * Logs a finished call: as an audit trail at info for commands that change
 * things (operate, admin), at debug for read-only ones, and at warn when a
 * command failed.
 */
export function logCall(
  logger: Logger & { level?: LogLevel },
  registry: Registry,
  r: CallRecord,
) {
  // On the hot path: skip the work when the logger would drop the line anyway.
  const floor = logger.level === undefined ? 0 : LOG_LEVELS.indexOf(logger.level);
  const failed = r.status === Status.HANDLER_ERROR;
  if (floor > LOG_LEVELS.indexOf(failed ? "warn" : "info")) return;
  const fields = {
    command: r.command,
    status: r.status,
    ms: Math.round(r.durationMs * 1000) / 1000,
    conn: r.caller.connection,
    access: r.caller.access,
  };
  if (failed) return logger.warn("Call failed", fields);
  const needs = registry.get(r.command)?.info.access;
  if (needs === "operate" || needs === "admin") logger.info("Call", fields);
  else if (floor === 0) logger.debug("Call", fields);
}

export function setLogLevel(logger: Logger & { level?: LogLevel }, level: string | undefined): string {
  if (logger.level === undefined) {
    throw new SockdError(Status.HANDLER_ERROR, "This server's logger has no level to change");
  }
  if (level !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw new SockdError(Status.BAD_ARGS, `Unknown log level "${level}" (use ${LOG_LEVELS.join(", ")})`);
    }
    const before = logger.level;
    logger.level = level as LogLevel;
    logger.info("Log level changed", { from: before, to: level });
  }
  return logger.level;
}
