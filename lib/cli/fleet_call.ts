/**
 * `sockd call --host H [--host H …] COMMAND`: the same call on many hosts,
 * each reached with `ssh -T HOST sockd bridge` (lib/fleet), at most
 * `--concurrency` at once, each within `--host-timeout`.
 *
 * Text output is one line per line of output, prefixed by the host (padded
 * so the columns align), streams from several hosts interleaved line by
 * line; `--json` writes one object per event, each with a `host` field (a
 * unary call: one object per host). A host's error is one prefixed line on
 * stderr naming what failed. The last line, on stderr, counts the hosts
 * that answered ok, failed (the command answered an error) and were
 * unreachable. Ctrl-C cancels the call on every host.
 *
 * @module
 */
import type { Client } from "../client.ts";
import { SockdError, Status } from "../errors.ts";
import { toJsonValue } from "../json_value.ts";
import { fanOut } from "../fleet/fan_out.ts";
import { connectSsh, type SshConnectOptions } from "../fleet/ssh_client.ts";
import { CANCEL_GRACE_MS } from "./call.ts";
import { Exit, exitCodeFor } from "./exit_codes.ts";
import { errorLine } from "./render.ts";
import { HostLines } from "./_host_lines.ts";

/** Options of {@linkcode runFleetCall}. */
export interface FleetCallOptions {
  hosts: readonly string[];
  json: boolean;
  /** The call's deadline on each server, in ms (`--timeout`). */
  timeoutMs?: number;
  /** Everything for one host (ssh, greeting, call) must be over within this, in ms. */
  hostTimeoutMs?: number;
  /** Hosts in progress at once. @default {32} */
  concurrency?: number;
  /** How ssh is run and what it runs remotely. */
  ssh: Omit<SshConnectOptions, "signal" | "timeoutMs">;
}

/** Where the fleet call writes. */
export interface FleetIO {
  /** Standard output; rejects with BrokenPipe when nobody reads. */
  out(bytes: Uint8Array): Promise<unknown>;
  /** A line on standard error. */
  err(line: string): void;
}

/** How one host ended. */
type Outcome =
  | { kind: "ok"; ms: number }
  | { kind: "failed" | "unreachable"; error: SockdError; ms: number }
  /** `confirmed`: the server answered the cancel (106) within the grace period. */
  | { kind: "cancelled"; ms: number; confirmed: boolean };

/** Time for ssh plus the remote greeting, unless `--host-timeout` is shorter, in ms. */
const CONNECT_TIMEOUT_MS = 15_000;

const encoder = new TextEncoder();

/** Runs the call on every host; resolves to the exit code (see the module doc and README). */
export async function runFleetCall(
  command: string,
  args: string[],
  options: FleetCallOptions,
  io: FleetIO,
  interrupt?: AbortSignal,
): Promise<number> {
  const started = performance.now();
  const width = Math.max(...options.hosts.map((h) => h.length));
  // Aborted by Ctrl-C, or when stdout is closed: every host's call is cancelled.
  const stopAll = new AbortController();
  let brokenPipe = false;
  const onInterrupt = () => stopAll.abort();
  interrupt?.addEventListener("abort", onInterrupt, { once: true });
  let writing: Promise<unknown> = Promise.resolve();
  const write = (text: string): Promise<unknown> => {
    if (text === "" || brokenPipe) return writing;
    // One write at a time, in order; a write holds whole lines of one host.
    writing = writing.then(() => brokenPipe ? undefined : io.out(encoder.encode(text))).catch((err) => {
      if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
      brokenPipe = true;
      stopAll.abort();
    });
    return writing;
  };
  const json = (host: string, obj: Record<string, unknown>) => write(JSON.stringify({ host, ...obj }) + "\n");

  const one = async (host: string): Promise<Outcome> => {
    const t0 = performance.now();
    const ms = () => Math.round(performance.now() - t0);
    const deadline = options.hostTimeoutMs === undefined
      ? undefined
      : AbortSignal.timeout(options.hostTimeoutMs);
    const signal = deadline ? AbortSignal.any([stopAll.signal, deadline]) : stopAll.signal;
    const lines = new HostLines(host, width);
    const tooLate = () =>
      new SockdError(
        Status.TIMEOUT,
        `${host} did not finish within ${options.hostTimeoutMs} ms (--host-timeout)`,
      );
    let client: Client;
    try {
      client = await connectSsh(host, {
        ...options.ssh,
        signal,
        timeoutMs: Math.min(CONNECT_TIMEOUT_MS, options.hostTimeoutMs ?? Infinity),
      });
    } catch (err) {
      if (stopAll.signal.aborted) return { kind: "cancelled", ms: ms(), confirmed: true };
      const error = deadline?.aborted ? tooLate() : asSockdError(err);
      return { kind: "unreachable", error, ms: ms() };
    }
    // Once cancelled, the server confirms with 106; one that does not is cut off.
    let grace: ReturnType<typeof setTimeout> | undefined;
    const onStop = () => grace ??= setTimeout(() => client.close(), CANCEL_GRACE_MS);
    signal.addEventListener("abort", onStop, { once: true });
    try {
      const call = client.call(command, args, { signal, timeoutMs: options.timeoutMs });
      for await (const chunk of call) {
        await (options.json ? json(host, { data: toJsonValue(chunk) }) : write(lines.chunk(chunk)));
      }
      const result = await call.result;
      await (options.json
        ? json(host, { status: 0, result: toJsonValue(result ?? null), ms: ms() })
        : write(lines.end(result)));
      return { kind: "ok", ms: ms() };
    } catch (err) {
      await write(lines.flush());
      if (stopAll.signal.aborted) {
        const e = asSockdError(err);
        return { kind: "cancelled", ms: ms(), confirmed: e.remote && e.status === Status.CANCELLED };
      }
      if (deadline?.aborted) return { kind: "failed", error: tooLate(), ms: ms() };
      const error = asSockdError(err);
      // A remote status is the command's answer; a lost connection means the host dropped away.
      return { kind: error.remote ? "failed" : "unreachable", error, ms: ms() };
    } finally {
      clearTimeout(grace);
      signal.removeEventListener("abort", onStop);
      client.close();
    }
  };

  const outcomes = await fanOut(options.hosts, async (host) => {
    const outcome = await one(host);
    if (outcome.kind === "failed" || outcome.kind === "unreachable") {
      const e = outcome.error;
      if (options.json) {
        await json(host, {
          status: e.status,
          name: e.code,
          error: e.message,
          reach: outcome.kind,
          ...(e.details ? { details: toJsonValue(e.details) } : {}),
          ms: outcome.ms,
        });
      }
      io.err(`${host.padEnd(width)} | ${errorLine(e.message)}`);
    } else if (outcome.kind === "cancelled") {
      if (options.json) await json(host, cancelledJson(outcome.confirmed, outcome.ms));
      if (!outcome.confirmed) {
        io.err(
          `${host.padEnd(width)} | ${
            errorLine(`Cancelled; ${host} did not confirm within ${CANCEL_GRACE_MS} ms`)
          }`,
        );
      }
    }
    return outcome;
  }, { concurrency: options.concurrency, signal: stopAll.signal });
  // With --json, every host has its object: those never started too.
  if (options.json) {
    for (const [i, o] of outcomes.entries()) {
      if (o === undefined) await json(options.hosts[i]!, cancelledJson(true, 0));
    }
  }
  await writing.catch(() => {});
  interrupt?.removeEventListener("abort", onInterrupt);

  const count = { ok: 0, failed: 0, unreachable: 0, cancelled: 0 };
  let firstFailed: SockdError | undefined;
  for (const o of outcomes) {
    const kind = o?.kind ?? "cancelled";
    count[kind]++;
    if (o?.kind === "failed") firstFailed ??= o.error;
  }
  if (brokenPipe) return Exit.BROKEN_PIPE;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const hosts = options.hosts.length;
  io.err(
    `sockd: ${hosts} host${
      hosts === 1 ? "" : "s"
    } in ${seconds} s: ${count.ok} ok, ${count.failed} failed, ` +
      `${count.unreachable} unreachable${count.cancelled ? `, ${count.cancelled} cancelled` : ""}` +
      `${interrupt?.aborted ? " (interrupted)" : ""}\n`,
  );
  if (interrupt?.aborted) return Exit.INTERRUPTED;
  if (firstFailed) return exitCodeFor(firstFailed.status);
  if (count.unreachable > 0) return Exit.CONNECTION;
  return Exit.OK;
}

/** The `--json` object of a host whose call was cancelled (or never started) by Ctrl-C or a closed stdout. */
function cancelledJson(confirmed: boolean, ms: number): Record<string, unknown> {
  return {
    status: Status.CANCELLED,
    name: "CANCELLED",
    error: "Cancelled",
    reach: "cancelled",
    confirmed,
    ms,
  };
}

function asSockdError(err: unknown): SockdError {
  return err instanceof SockdError
    ? err
    : new SockdError(Status.CONN_ERROR, String((err as Error)?.message ?? err));
}
