/**
 * Which hosts a fleet call goes to: `--host` values and `--hosts-file`
 * lines, checked so that none can be taken for an `ssh` option.
 *
 * @module
 */

/** Longest host accepted (`user@name`, an alias, `ssh://user@host:port`). */
const MAX_HOST_LENGTH = 1024;
/** Most hosts one call fans out to. */
export const MAX_HOSTS = 100_000;
/** Largest hosts file read. */
const MAX_HOSTS_FILE_BYTES = 4 * 1024 * 1024;

/**
 * Why `host` cannot be handed to `ssh`, or undefined. `ssh` accepts
 * `user@host`, aliases from `~/.ssh/config` and `ssh://` URLs; a host
 * starting with `-` would be read as an option (`-oProxyCommand=…`), and
 * blanks or control characters are never part of a host.
 *
 * @example
 * ```ts
 * import { hostProblem } from "./hosts.ts";
 * console.assert(hostProblem("deploy@lb1.example.net") === undefined);
 * console.assert(hostProblem("-oProxyCommand=sh") !== undefined);
 * ```
 */
export function hostProblem(host: string): string | undefined {
  const shown = JSON.stringify(host.length > 60 ? host.slice(0, 60) + "…" : host);
  if (host.length === 0) return "Empty host";
  if (host.length > MAX_HOST_LENGTH) return `Host ${shown} is longer than ${MAX_HOST_LENGTH} characters`;
  if (host.startsWith("-")) return `Host ${shown} starts with "-" (ssh would read it as an option)`;
  // deno-lint-ignore no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(host)) return `Host ${shown} contains a blank or a control character`;
  return undefined;
}

/**
 * The hosts in a hosts file's text: one per line; blank lines and `#`
 * comments (whole-line or trailing) are skipped. Throws an Error naming the
 * line of the first bad host.
 *
 * @example
 * ```ts
 * import { parseHostsFile } from "./hosts.ts";
 * const hosts = parseHostsFile("# load balancers\nlb1\nroot@lb2  # the old one\n\n");
 * console.assert(hosts.join(",") === "lb1,root@lb2");
 * ```
 */
export function parseHostsFile(text: string, name = "hosts file"): string[] {
  const hosts: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/#.*/, "").trim();
    if (line === "") continue;
    const problem = hostProblem(line);
    if (problem) throw new Error(`${name}, line ${i + 1}: ${problem}`);
    hosts.push(line);
  }
  return hosts;
}

/** Reads a hosts file (at most 4 MiB) with {@linkcode parseHostsFile}. */
export async function readHostsFile(path: string): Promise<string[]> {
  const file = await Deno.open(path);
  try {
    const buf = new Uint8Array(MAX_HOSTS_FILE_BYTES + 1);
    let size = 0;
    while (size < buf.length) {
      const n = await file.read(buf.subarray(size));
      if (n === null) break;
      size += n;
    }
    if (size > MAX_HOSTS_FILE_BYTES) throw new Error(`Hosts file ${path} is larger than 4 MiB`);
    return parseHostsFile(new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(0, size)), path);
  } finally {
    file.close();
  }
}

/**
 * The hosts to call, in the order given, each once; throws an Error for a
 * bad host, none at all, or more than {@linkcode MAX_HOSTS}.
 */
export function fleetHosts(given: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const host of given) {
    const problem = hostProblem(host);
    if (problem) throw new Error(problem);
    seen.add(host);
  }
  if (seen.size === 0) throw new Error("No hosts given");
  if (seen.size > MAX_HOSTS) throw new Error(`More than ${MAX_HOSTS} hosts`);
  return [...seen];
}
