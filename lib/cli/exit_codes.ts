/**
 * Exit codes of `sockd call` and `sockd repl` (and the other client
 * commands): the single source for the README's table and docs/CLIENT.md.
 * Scripts can tell "the command failed" from "no server".
 *
 * @module
 */
import { Status } from "../errors.ts";

/** Exit codes by meaning. */
export const Exit = {
  /** The call succeeded. */
  OK: 0,
  /** The command ran and failed (105), or was cancelled by the server (106). */
  FAILED: 1,
  /** Bad usage: of sockd itself, an unknown command (101), or bad arguments (110). */
  USAGE: 2,
  /** No server, or the connection failed (103). */
  CONNECTION: 3,
  /** A deadline passed (104). */
  TIMEOUT: 4,
  /** The socket's access level does not allow the command (107). */
  FORBIDDEN: 5,
  /** The server refused the request: malformed (102), too large (108), or busy (109). */
  REFUSED: 6,
  /** Interrupted by Ctrl-C (SIGINT); the remote call was cancelled. */
  INTERRUPTED: 130,
  /**
   * Standard output was closed (`sockd call … | head`); the remote call was
   * cancelled and nothing is printed, as a shell reports a process killed by SIGPIPE.
   */
  BROKEN_PIPE: 141,
} as const;

/** The exit code for a status code. */
export function exitCodeFor(status: number): number {
  switch (status) {
    case Status.OK:
      return Exit.OK;
    case Status.NOT_FOUND:
    case Status.BAD_ARGS:
      return Exit.USAGE;
    case Status.CONN_ERROR:
      return Exit.CONNECTION;
    case Status.TIMEOUT:
      return Exit.TIMEOUT;
    case Status.FORBIDDEN:
      return Exit.FORBIDDEN;
    case Status.BAD_REQUEST:
    case Status.TOO_LARGE:
    case Status.BUSY:
      return Exit.REFUSED;
    default:
      return Exit.FAILED;
  }
}

/** What each exit code means, for `sockd call --help` (the README's table says the same; a test holds both). */
export const EXIT_CODE_MEANINGS: readonly [code: number, meaning: string][] = [
  [Exit.OK, "the call succeeded"],
  [Exit.FAILED, "the command failed (105), or the server cancelled it (106)"],
  [Exit.USAGE, "usage: of sockd itself, an unknown command (101), or bad arguments (110)"],
  [Exit.CONNECTION, "no server at the path, or the connection failed (103)"],
  [Exit.TIMEOUT, "a deadline passed (104)"],
  [Exit.FORBIDDEN, "the socket's access level does not allow the command (107)"],
  [Exit.REFUSED, "the server refused the request: malformed (102), too large (108), or busy (109)"],
  [Exit.INTERRUPTED, "interrupted by Ctrl-C; the remote call was cancelled first"],
  [Exit.BROKEN_PIPE, "stdout was closed (| head); the remote call was cancelled, nothing printed"],
];

/** The exit code table as `sockd call --help` prints it. */
export function exitCodeHelp(): string {
  return "\nExit codes:\n" +
    EXIT_CODE_MEANINGS.map(([code, meaning]) => `  ${String(code).padStart(3)}  ${meaning}`)
      .join("\n") +
    "\n";
}
