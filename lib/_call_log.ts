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
  // On the hot path: skip the work when the logger would drop the line anyway (at the default
  // level, info, a read-only command's call is not logged: no fields object is built for it).
  const floor = logger.level === undefined ? 0 : LOG_LEVELS.indexOf(logger.level);
  const failed = r.status === Status.HANDLER_ERROR;
  if (floor > LOG_LEVELS.indexOf(failed ? "warn" : "info")) return;
  let message: "Call failed" | "Call" = "Call failed";
  let level: "warn" | "info" | "debug" = "warn";
  if (!failed) {
    const needs = registry.get(r.command)?.info.access;
    message = "Call";
    level = needs === "operate" || needs === "admin" ? "info" : "debug";
    if (level === "debug" && floor > 0) return;
  }
  logger[level](message, {
    command: r.command,
    status: r.status,
    ms: Math.round(r.durationMs * 1000) / 1000,
    conn: r.caller.connection,
    access: r.caller.access,
  });
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
