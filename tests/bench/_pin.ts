/**
 * `--pin`: the bench process and, through inheritance, every process it
 * starts afterwards (sockd servers and their plugin hosts, HAProxy, Redis,
 * the raw server, the C client) run on one CPU, so a figure is the CPU cost
 * of a call, client and server together, rather than how well two cores
 * overlap. Uses `taskset` (util-linux): `taskset -a -p -c CPU PID` sets the
 * affinity of every thread of this process; threads and children created
 * later inherit it.
 *
 * @module
 */
import { runOutput } from "./_processes.ts";

/** Pins this process (all its threads) to `cpu`; resolves to how it checked the pinning, or throws. */
export async function pinSelf(cpu: number): Promise<string> {
  const cpus = navigator.hardwareConcurrency;
  if (!Number.isInteger(cpu) || cpu < 0 || cpu >= cpus) {
    throw new Error(`--pin: CPU ${cpu} does not exist (this machine has CPUs 0-${cpus - 1})`);
  }
  try {
    await runOutput("taskset", ["-a", "-p", "-c", String(cpu), String(Deno.pid)]);
  } catch (err) {
    throw new Error(
      `--pin needs taskset (util-linux: apt-get install -y util-linux): ${(err as Error).message}`,
    );
  }
  // A child started now must inherit it: ask one (cat reads its own status).
  const status = await runOutput("cat", ["/proc/self/status"]);
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
  if (list !== String(cpu)) {
    throw new Error(`--pin: a child process runs on CPUs ${list ?? "?"}, not only on CPU ${cpu}`);
  }
  return `pinned to CPU ${cpu} (taskset -a -p; children inherit; checked: a child's Cpus_allowed_list is ${list})`;
}
