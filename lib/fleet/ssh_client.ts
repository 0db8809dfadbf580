/**
 * A {@linkcode Client} to a sockd server on another machine, through
 * OpenSSH: `ssh -T HOST sockd bridge --socket PATH`, the msgpack dialect
 * over the child's pipes. OpenSSH does the rest (authentication,
 * `known_hosts`, `~/.ssh/config`, ControlMaster multiplexing).
 *
 * When the server cannot be reached, the error says which step failed:
 * ssh could not connect (ssh exits 255), the remote `sockd` is missing (the
 * remote shell exits 127), or the bridge found no server (its own message).
 *
 * @module
 */
import { streamChannel } from "../byte_channel.ts";
import { type Client, connectChannel } from "../client.ts";
import { SockdError, Status } from "../errors.ts";
import { hostProblem } from "./hosts.ts";

/** Options of {@linkcode connectSsh}. */
export interface SshConnectOptions {
  /** The ssh program. @default {"ssh"} */
  ssh?: string;
  /** Arguments for ssh before the host, e.g. `["-F", "fleet_config", "-o", "ControlMaster=auto"]`. */
  sshArgs?: readonly string[];
  /**
   * How the remote shell runs sockd: a command name, a path, or a shell
   * fragment (`deno run -P=sockd /srv/sockd/main.ts`). @default {"sockd"}
   */
  remoteSockd?: string;
  /** The socket on the remote host; its default socket when absent. */
  remoteSocket?: string;
  /** Time for ssh to connect and the remote server to greet, in ms. @default {15000} */
  timeoutMs?: number;
  /** Aborting it stops connecting (the ssh process is ended). */
  signal?: AbortSignal;
}

/** Where a connection through ssh failed; in `SockdError.details.stage`. */
export type SshStage = "ssh" | "remote-sockd" | "bridge" | "greeting";

/** Bytes of ssh's standard error kept to explain a failure. */
const STDERR_BYTES = 8 * 1024;
/** How long ssh may take to exit once its input is closed, before it is killed, in ms. */
const EXIT_GRACE_MS = 2000;
/** How long to wait for the end of ssh's stderr once it exited, in ms. */
const STDERR_GRACE_MS = 200;

/** Quotes `s` for a POSIX shell (the remote side runs the command through one). */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The ssh arguments for `host`: `-T`, the caller's, BatchMode (no prompts), then `--`, host, command. */
export function sshCommandArgs(host: string, options: SshConnectOptions = {}): string[] {
  const problem = hostProblem(host);
  if (problem) throw new RangeError(problem);
  const remote = [options.remoteSockd ?? "sockd", "bridge"];
  if (options.remoteSocket !== undefined) remote.push("--socket", shellQuote(options.remoteSocket));
  // ssh keeps the first value of an option: the caller's come first, so `-o BatchMode=no` can win.
  return ["-T", ...(options.sshArgs ?? []), "-o", "BatchMode=yes", "--", host, remote.join(" ")];
}

/**
 * Connects to the sockd server on `host` through `ssh`. Rejects with a
 * CONN_ERROR (103) {@linkcode SockdError} whose message names the host and
 * the step that failed (`details: { host, stage }`), or TIMEOUT (104).
 * Closing the client closes ssh's input; ssh is killed if it has not exited
 * 2 s later.
 *
 * @example
 * ```ts ignore
 * import { connectSsh } from "./ssh_client.ts";
 * const client = await connectSsh("deploy@lb1", { remoteSocket: "/run/haproxy-sockd.sock" });
 * console.log(await client.call("stats").result);
 * client.close();
 * ```
 */
export async function connectSsh(host: string, options: SshConnectOptions = {}): Promise<Client> {
  const args = sshCommandArgs(host, options);
  const timeoutMs = options.timeoutMs ?? 15_000;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(options.ssh ?? "ssh", { args, stdin: "piped", stdout: "piped", stderr: "piped" })
      .spawn();
  } catch (err) {
    throw new SockdError(Status.CONN_ERROR, `Cannot run ssh for ${host}: ${(err as Error).message}`, {
      cause: err,
      details: { host, stage: "ssh" },
    });
  }
  const stderr = keepStart(child.stderr, STDERR_BYTES);
  const status = child.status;
  const channel = streamChannel({ readable: child.stdout, writable: child.stdin });
  const end = () => {
    channel.close();
    const timer = setTimeout(() => kill(child), EXIT_GRACE_MS);
    status.finally(() => clearTimeout(timer));
  };
  const onAbort = () => end();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    if (options.signal?.aborted) throw new SockdError(Status.CANCELLED, "Cancelled");
    const client = await connectChannel(channel, { name: host, timeoutMs });
    client.closed.then(() => {
      end();
      status.finally(() => stderr.stop());
    });
    return client;
  } catch (err) {
    end();
    if (options.signal?.aborted) {
      throw new SockdError(Status.CANCELLED, `Connecting to ${host} was cancelled`, { details: { host } });
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      status,
      new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), EXIT_GRACE_MS)),
    ]);
    clearTimeout(timer);
    // What ssh wrote before it exited: its end, unless a ControlPersist master holds the pipe.
    await Promise.race([stderr.done, new Promise((r) => timer = setTimeout(r, STDERR_GRACE_MS))]);
    clearTimeout(timer);
    stderr.stop();
    throw explain(host, err as SockdError, exited?.code, stderr.text(), options.remoteSockd ?? "sockd");
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/** The error for a connection that failed before the greeting, from ssh's exit code and stderr. */
function explain(
  host: string,
  err: SockdError,
  code: number | undefined,
  stderr: string,
  remoteSockd: string,
): SockdError {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const last = lines.at(-1);
  const fail = (stage: SshStage, message: string, status: number = Status.CONN_ERROR) =>
    new SockdError(status, message, { cause: err, details: { host, stage } });
  if (code === 255) return fail("ssh", `ssh could not connect to ${host}: ${last ?? "ssh exited with 255"}`);
  if (code === 127 || code === 126) {
    return fail(
      "remote-sockd",
      `${remoteSockd} not found on ${host}${last ? `: ${last}` : ` (exit ${code})`}`,
    );
  }
  // The bridge's own error line: no server at the path, a socket owned by a stranger.
  const bridge = lines.findLast((l) => l.startsWith("sockd: "));
  if (bridge) return fail("bridge", `On ${host}, ${bridge.slice("sockd: ".length)}`);
  if (err.status === Status.TIMEOUT) {
    return fail("greeting", `${host} did not answer within the connect deadline`, Status.TIMEOUT);
  }
  const why = last ? `: ${last}` : code === undefined ? "" : ` (the remote command exited with ${code})`;
  return fail("greeting", `No sockd greeting from ${host}${why}`, err.status);
}

function kill(child: Deno.ChildProcess) {
  try {
    child.kill("SIGKILL");
  } catch { /* already gone */ }
}

/**
 * Collects the first `max` bytes of ssh's stderr; the rest is read and
 * dropped (ssh must not block on it). A ControlPersist master inherits the
 * pipe and may hold it open long after, so nobody waits for its end.
 */
function keepStart(
  stream: ReadableStream<Uint8Array>,
  max: number,
): { text(): string; stop(): void; done: Promise<void> } {
  const reader = stream.getReader();
  const kept = new Uint8Array(max);
  let size = 0;
  const done = (async () => {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      const n = Math.min(value.length, max - size);
      kept.set(value.subarray(0, n), size);
      size += n;
    }
  })().catch(() => {});
  return {
    done,
    text: () => new TextDecoder().decode(kept.subarray(0, size)),
    stop: () => void reader.cancel().catch(() => {}),
  };
}
