/**
 * The fan-out figures: wall time of `sockd call --host … ping` on 1, 8 and
 * 32 hosts, each an alias of one loopback sshd (tests/fleet/_sshd.ts), with
 * a fresh ssh connection per host and with ControlMaster connections made
 * beforehand. The baseline is the bare ssh cost: `ssh HOST true` to the same
 * hosts, all at once, the same way (so the ratio is what sockd adds: the
 * remote `sockd bridge` start, the greeting and the call).
 *
 * Everything runs on this one machine: the ssh clients, sshd, its session
 * processes and every remote `sockd bridge` (a `deno run` from source)
 * share its cores, so the figure for 32 hosts mostly measures this
 * machine's CPU. docs/OPERATIONS.md says what that means for a real fleet.
 *
 * @module
 */
import { REMOTE_SOCKD, SSHD, startSshd } from "../fleet/_sshd.ts";
import type { Env } from "./_env.ts";
import { interleave } from "./_figures.ts";
import { ROOT, timeRun } from "./_processes.ts";
import { makeRow, naRow, type Row } from "./_row.ts";

/** Repetitions per row: a 32-host round takes seconds, so the full run does 3 as the quick one does. */
const REPS = 3;

/** Host counts of the figure. */
const SIZES = [1, 8, 32] as const;

/** Row ids, in table order. */
export const FLEET_IDS: readonly string[] = SIZES.flatMap((n) => [`fleet-${n}`, `fleet-${n}-cm`]);

/** Runs `ssh HOST true` for every host at once; the wall time in ms. */
async function sshAll(config: string, hosts: readonly string[]): Promise<number> {
  const t0 = performance.now();
  await Promise.all(hosts.map((h) => timeRun("ssh", ["-F", config, "-T", "-o", "BatchMode=yes", h, "true"])));
  return performance.now() - t0;
}

/** Fan-out wall time for 1, 8 and 32 hosts, without and with ControlMaster. */
export async function fleetFanOut(env: Pick<Env, "sockd">): Promise<Row[]> {
  if (!await Deno.stat(SSHD).then((s) => s.isFile, () => false)) {
    return FLEET_IDS.map((id) =>
      naRow({
        id,
        figure: `fan-out (${id})`,
        unit: "ms",
        baseline: "`ssh HOST true`",
        target: { kind: "none" },
      }, `${SSHD} is not installed (Debian: openssh-server)`)
    );
  }
  // Every alias reaches the bench's sockd server (its socket sent as SOCKD_SOCKET).
  const aliases = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`h${i}`, env.sockd]));
  await using sshd = await startSshd({ aliases });
  const all = Object.keys(aliases);
  // The masters are made once, as an operator's first command of the day would (ControlPersist 60).
  await sshAll(sshd.controlConfig, all);
  const call = (config: string, hosts: readonly string[]) =>
    timeRun("deno", [
      "run",
      "-q",
      "-P=sockd",
      `${ROOT}main.ts`,
      "call",
      "--ssh-config",
      config,
      "--remote-sockd",
      REMOTE_SOCKD,
      "--concurrency",
      "32",
      ...hosts.flatMap((h) => ["-H", h]),
      "ping",
    ]);
  // One uncounted run fills Deno's caches for the local and the remote side.
  await call(sshd.config, all.slice(0, 1));
  const rows: Row[] = [];
  for (const n of SIZES) {
    const hosts = all.slice(0, n);
    for (const control of [false, true]) {
      const config = control ? sshd.controlConfig : sshd.config;
      const s = await interleave(REPS, [
        { name: "ssh", sample: () => sshAll(config, hosts) },
        { name: "sockd", sample: () => call(config, hosts) },
      ]);
      const how = control
        ? "over ControlMaster connections made beforehand"
        : "a new ssh connection per host";
      rows.push(makeRow({
        id: `fleet-${n}${control ? "-cm" : ""}`,
        figure: `\`sockd call --host …\` ping on ${n} host${n > 1 ? "s" : ""}, ${how}`,
        unit: "ms",
        samples: s.get("sockd")!,
        baseline: `\`ssh HOST true\` to the same ${n}, all at once`,
        baselineSamples: s.get("ssh")!,
        target: { kind: "none", text: "reported (one machine plays every host)" },
        note: n === 32
          ? "Every host is an alias of one loopback sshd: its sessions and each remote `deno run` of sockd share this machine's cores."
          : undefined,
      }));
    }
  }
  return rows;
}
