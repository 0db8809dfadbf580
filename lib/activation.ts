/**
 * systemd socket activation: the listening sockets systemd (or
 * `systemd-socket-activate`) opened and passed to this process, as
 * sd_listen_fds(3) reads them. Descriptors start at 3; `LISTEN_FDS` says how
 * many, `LISTEN_PID` says which process they are for (a child that inherits
 * the variables must not take its parent's sockets), and `LISTEN_FDNAMES`
 * names them, colon-separated (`FileDescriptorName=` in the .socket unit).
 * The variables are removed once read, as `sd_listen_fds(1)` does, so that
 * processes this one starts (plugin hosts) do not see them.
 *
 * @module
 */
import { noteInherited } from "./_inherited_fds.ts";

/** The first descriptor systemd passes (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;
/** More than this many passed descriptors is taken for a mistake. */
const MAX_LISTEN_FDS = 64;

/** One socket passed by systemd. */
export interface ActivatedSocket {
  /** The descriptor number. */
  fd: number;
  /** Its name from `LISTEN_FDNAMES` (systemd's default is the .socket unit's name; `unknown` when unnamed). */
  name: string;
}

/** Thrown when the activation variables are malformed; the message says which and why. */
export class ActivationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ActivationError";
  }
}

/** Reads an environment variable, treating a denied permission as unset. */
function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * The sockets systemd passed to this process, or an empty list when none
 * were (no `LISTEN_FDS`, or `LISTEN_PID` names another process). Removes
 * the three variables in every case where `LISTEN_FDS` was set.
 */
export function systemdSockets(pid: number = Deno.pid): ActivatedSocket[] {
  const count = readEnv("LISTEN_FDS");
  if (count === undefined) return [];
  const forPid = readEnv("LISTEN_PID");
  const names = readEnv("LISTEN_FDNAMES");
  for (const name of ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"]) {
    try {
      Deno.env.delete(name);
    } catch { /* not permitted: the variables stay, harmless for a process that checks LISTEN_PID */ }
  }
  const sockets = parseListenFds(count, forPid, names, pid);
  // Inherited without close-on-exec: plugin hosts close them before any plugin runs.
  for (const s of sockets) noteInherited(s.fd);
  return sockets;
}

/** Parses the three variables (exported for tests); `pid` is this process's. */
export function parseListenFds(
  count: string,
  forPid: string | undefined,
  names: string | undefined,
  pid: number,
): ActivatedSocket[] {
  // sd_listen_fds: without LISTEN_PID, or with another process's, the sockets are not ours.
  if (forPid === undefined || !/^\d+$/.test(forPid) || Number(forPid) !== pid) return [];
  if (!/^\d+$/.test(count) || Number(count) > MAX_LISTEN_FDS) {
    throw new ActivationError(`LISTEN_FDS="${count}" is not a number of descriptors (0-${MAX_LISTEN_FDS})`);
  }
  const n = Number(count);
  const list = names === undefined || names === "" ? [] : names.split(":");
  if (list.length > 0 && list.length !== n) {
    throw new ActivationError(`LISTEN_FDNAMES names ${list.length} sockets but LISTEN_FDS is ${n}`);
  }
  return Array.from({ length: n }, (_, i) => ({ fd: LISTEN_FDS_START + i, name: list[i] || "unknown" }));
}
