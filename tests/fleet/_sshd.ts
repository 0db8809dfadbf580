/**
 * A real OpenSSH server for fleet tests and benchmarks: `/usr/sbin/sshd` on
 * a free loopback port with a throwaway host key and user key, and an
 * `ssh_config` whose host aliases all lead to it, each with its own remote
 * socket (`SetEnv SOCKD_SOCKET`, accepted by the server), checked against a
 * generated `known_hosts` (`StrictHostKeyChecking yes`). The remote `sockd`
 * is this checkout, run from source as `deno task sockd` runs it.
 */
import { captureStderr, ROOT, waitFor } from "../_helpers.ts";

/** Where sshd is: Debian's openssh-server. */
export const SSHD = "/usr/sbin/sshd";
/** The remote sockd: this checkout from source, with the sockd permission set. */
export const REMOTE_SOCKD = `${Deno.execPath()} run -q -P=sockd ${ROOT}main.ts`;

/** A running sshd and the files a client needs to reach it. */
export interface Sshd extends AsyncDisposable {
  /** The temp directory holding keys, configs and logs. */
  dir: string;
  port: number;
  /** `ssh -F` this: the aliases, keys and known_hosts. */
  config: string;
  /** The same aliases with ControlMaster/ControlPersist on (sockets in `dir`). */
  controlConfig: string;
  /** What sshd logged so far. */
  log(): string;
  /** Stops sshd and removes the directory. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startSshd}. */
export interface SshdOptions {
  /** alias → its remote socket (sent as SOCKD_SOCKET), or null for the remote default. */
  aliases: Record<string, string | null>;
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(10_000),
  }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** A free loopback TCP port (free when asked; sshd takes it right after). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Starts sshd and waits (at most 10 s) until it accepts TCP connections. */
export async function startSshd(options: SshdOptions): Promise<Sshd> {
  // Debian's sshd refuses to start without its privilege separation directory.
  await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  const dir = await Deno.makeTempDir({ prefix: "sockd-sshd-" });
  await Promise.all([
    run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "sockd-test-host", "-f", `${dir}/host_key`]),
    run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "sockd-test-user", "-f", `${dir}/user_key`]),
  ]);
  await Deno.copyFile(`${dir}/user_key.pub`, `${dir}/authorized_keys`);
  const port = freePort();
  await Deno.writeTextFile(
    `${dir}/sshd_config`,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${dir}/host_key`,
      `PidFile ${dir}/sshd.pid`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      "StrictModes no",
      "UsePAM no",
      "PermitRootLogin yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "AcceptEnv SOCKD_SOCKET",
      "PrintMotd no",
      // Fan-out opens many connections at once; the default 10:30:100 would drop some.
      "MaxStartups 200",
      "MaxSessions 200",
      "LogLevel ERROR",
      "",
    ].join("\n"),
  );
  const hostKey = (await Deno.readTextFile(`${dir}/host_key.pub`)).trim().split(" ").slice(0, 2).join(" ");
  await Deno.writeTextFile(`${dir}/known_hosts`, `[127.0.0.1]:${port} ${hostKey}\n`);
  const aliases = Object.keys(options.aliases);
  const common = (control: boolean) =>
    [
      `Host ${aliases.join(" ")}`,
      "  HostName 127.0.0.1",
      `  Port ${port}`,
      "  User root",
      `  IdentityFile ${dir}/user_key`,
      "  IdentitiesOnly yes",
      `  UserKnownHostsFile ${dir}/known_hosts`,
      "  GlobalKnownHostsFile /dev/null",
      "  StrictHostKeyChecking yes",
      "  BatchMode yes",
      "  LogLevel ERROR",
      // %n: the alias as given, so each alias has its own master (%C would hash the shared HostName).
      ...(control ? ["  ControlMaster auto", `  ControlPath ${dir}/cm-%n`, "  ControlPersist 60"] : []),
      ...Object.entries(options.aliases).flatMap(([alias, socket]) =>
        socket === null ? [] : [`Host ${alias}`, `  SetEnv SOCKD_SOCKET=${socket}`]
      ),
      "",
    ].join("\n");
  await Deno.writeTextFile(`${dir}/ssh_config`, common(false));
  await Deno.writeTextFile(`${dir}/ssh_config_control`, common(true));
  const child = new Deno.Command(SSHD, {
    args: ["-D", "-e", "-f", `${dir}/sshd_config`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const { text: log, drained } = captureStderr(child);
  let exited: number | undefined;
  const status = child.status.then((s) => exited = s.code);
  const stop = async () => {
    // ControlPersist masters would outlive the test: ask each to exit first.
    await Promise.all(aliases.map((alias) =>
      new Deno.Command("ssh", {
        args: ["-F", `${dir}/ssh_config_control`, "-O", "exit", alias],
        stdin: "null",
        stdout: "null",
        stderr: "null",
        signal: AbortSignal.timeout(5000),
      }).output().catch(() => {})
    ));
    if (exited === undefined) {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
    }
    await Promise.race([status, new Promise((r) => setTimeout(r, 5000))]);
    await drained;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await waitFor(
      async () => {
        if (exited !== undefined) throw new Error(`sshd exited with ${exited}:\n${log()}`);
        try {
          (await Deno.connect({ hostname: "127.0.0.1", port })).close();
          return true;
        } catch {
          return false;
        }
      },
      10_000,
      `sshd on port ${port}`,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    dir,
    port,
    config: `${dir}/ssh_config`,
    controlConfig: `${dir}/ssh_config_control`,
    log,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
