/**
 * The options of `sockd call` that fan a call out to many hosts over ssh,
 * and their parsing; the call itself is in fleet_call.ts (loaded only when
 * a host is given, so a local one-shot call does not pay for it).
 *
 * @module
 */
import type { Client } from "../client.ts";
import type { CallOptionSpec } from "./call_cli.ts";
import { parseDuration } from "./duration.ts";
import { Exit } from "./exit_codes.ts";
import { errorLine } from "./render.ts";

/** `sockd call` options for many hosts, in help order. */
export const FLEET_OPTIONS: readonly CallOptionSpec[] = [
  {
    long: "host",
    short: "H",
    value: "host",
    multiple: true,
    description: "Call on this host through `ssh HOST sockd bridge` (anything ssh accepts; repeatable)",
  },
  {
    long: "hosts-file",
    value: "file",
    description: "Hosts, one per line (# comments); with or without --host",
  },
  { long: "concurrency", value: "n", description: "Hosts in progress at once (default: 32)" },
  {
    long: "host-timeout",
    value: "duration",
    description: "Deadline for each host: ssh, greeting and call (default: none; connecting alone: 15s)",
  },
  { long: "remote-socket", value: "path", description: "Socket path on the hosts (default: theirs)" },
  {
    long: "remote-sockd",
    value: "command",
    description: 'How the hosts run sockd: a name, a path, or a shell fragment (default: "sockd")',
  },
  { long: "ssh-config", value: "file", description: "ssh configuration file (ssh -F)" },
  { long: "ssh-option", value: "option", multiple: true, description: "An ssh -o option (repeatable)" },
];

/** Parsed fleet options of `sockd call`. */
export interface FleetCliOptions {
  host?: string[];
  hostsFile?: string;
  concurrency?: string;
  hostTimeout?: string;
  remoteSocket?: string;
  remoteSockd?: string;
  sshConfig?: string;
  sshOption?: string[];
}

/** The fleet options among values parsed by `node:util` (kebab-case keys). */
export function fleetValues(v: Record<string, string | boolean | string[] | undefined>): FleetCliOptions {
  return {
    host: v.host as string[] | undefined,
    hostsFile: v["hosts-file"] as string | undefined,
    concurrency: v.concurrency as string | undefined,
    hostTimeout: v["host-timeout"] as string | undefined,
    remoteSocket: v["remote-socket"] as string | undefined,
    remoteSockd: v["remote-sockd"] as string | undefined,
    sshConfig: v["ssh-config"] as string | undefined,
    sshOption: v["ssh-option"] as string[] | undefined,
  };
}

/** Whether the call goes to hosts rather than a local socket. */
export function isFleetCall(opts: FleetCliOptions): boolean {
  return (opts.host?.length ?? 0) > 0 || opts.hostsFile !== undefined;
}

/**
 * The module at `path` (relative to this one) by a computed specifier: `deno run` reads the module
 * graph behind every literal import() before it starts, and a plain `sockd call` loads this module
 * but never the fleet's. build.ts compiles lib/ in with --include.
 */
function here(path: string): string {
  return new URL(path, import.meta.url).href;
}

/** The most hosts in progress at once that `--concurrency` accepts. */
const MAX_CONCURRENCY = 1024;

/** Runs `sockd call --host …` with parsed options; returns the exit code. */
export async function fleetCallAction(
  command: string,
  args: string[],
  opts: FleetCliOptions & { json?: boolean; timeout?: string; socket?: string; trustOwner?: string },
  err: (line: string) => void,
): Promise<number> {
  const { fleetHosts, readHostsFile } = await import(
    here("../fleet/hosts.ts")
  ) as typeof import("../fleet/hosts.ts");
  let hosts: string[];
  let concurrency = 32;
  let timeoutMs: number | undefined;
  let hostTimeoutMs: number | undefined;
  try {
    if (opts.socket !== undefined) throw new Error("--socket is for a local server; use --remote-socket");
    if (opts.trustOwner !== undefined) {
      throw new Error(
        '--trust-owner is for a local socket; on the hosts, use --remote-sockd "SOCKD_TRUST_OWNER=USER sockd"',
      );
    }
    const fromFile = opts.hostsFile === undefined ? [] : await readHostsFile(opts.hostsFile);
    hosts = fleetHosts([...(opts.host ?? []), ...fromFile]);
    if (opts.concurrency !== undefined) {
      concurrency = Number(opts.concurrency);
      if (!/^\d+$/.test(opts.concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
        throw new Error(`--concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}`);
      }
    }
    timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout);
    hostTimeoutMs = opts.hostTimeout === undefined ? undefined : parseDuration(opts.hostTimeout);
  } catch (e) {
    err(errorLine((e as Error).message));
    return Exit.USAGE;
  }
  const sshArgs = sshArgsOf(opts);
  const { runFleetCall } = await import(here("./fleet_call.ts")) as typeof import("./fleet_call.ts");
  const interrupt = new AbortController();
  const onInt = () => interrupt.abort();
  Deno.addSignalListener("SIGINT", onInt);
  const stdout = Deno.stdout.writable.getWriter();
  try {
    return await runFleetCall(
      command,
      args,
      {
        hosts,
        json: opts.json === true,
        timeoutMs,
        hostTimeoutMs,
        concurrency,
        ssh: { sshArgs, remoteSockd: opts.remoteSockd, remoteSocket: opts.remoteSocket },
      },
      { out: (bytes) => stdout.write(bytes), err },
      interrupt.signal,
    );
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    await stdout.ready.catch(() => {});
    stdout.releaseLock();
  }
}

/** The options of `sockd call --host` that `sockd repl` takes too (one host). */
export const REPL_REMOTE_OPTIONS: ReadonlySet<string> = new Set([
  "host",
  "remote-socket",
  "remote-sockd",
  "ssh-config",
  "ssh-option",
]);

/**
 * For `sockd repl --host HOST`: the name shown and how to connect through
 * ssh; undefined without `--host`. Throws an Error for a bad host or
 * `--socket` given with it.
 */
export async function replRemote(
  opts: { host?: string; socket?: string } & Omit<FleetCliOptions, "host">,
): Promise<{ name: string; dial: (timeoutMs: number) => Promise<Client> } | undefined> {
  if (opts.host === undefined) return undefined;
  if (opts.socket !== undefined) throw new Error("--socket is for a local server; use --remote-socket");
  const { hostProblem } = await import(here("../fleet/hosts.ts")) as typeof import("../fleet/hosts.ts");
  const problem = hostProblem(opts.host);
  if (problem) throw new Error(problem);
  const { connectSsh } = await import(
    here("../fleet/ssh_client.ts")
  ) as typeof import("../fleet/ssh_client.ts");
  const host = opts.host;
  const ssh = { sshArgs: sshArgsOf(opts), remoteSockd: opts.remoteSockd, remoteSocket: opts.remoteSocket };
  return {
    name: opts.remoteSocket === undefined ? host : `${host}:${opts.remoteSocket}`,
    // ssh and a remote process start take longer than a local connect.
    dial: (timeoutMs) => connectSsh(host, { ...ssh, timeoutMs: Math.max(timeoutMs, 15_000) }),
  };
}

function sshArgsOf(opts: Pick<FleetCliOptions, "sshConfig" | "sshOption">): string[] {
  return [
    ...(opts.sshConfig === undefined ? [] : ["-F", opts.sshConfig]),
    ...(opts.sshOption ?? []).flatMap((o) => ["-o", o]),
  ];
}
