/**
 * What Deno cannot do for a child without the blanket `run` permission:
 * signal a whole process group (`Deno.kill(-pgid)` needs `--allow-run` for
 * everything), see which processes of a group are left, and read another
 * process's memory (`/proc/PID` needs `--allow-all`). The `kill` and `ps`
 * programs do it, so the supervisor needs `run` for exactly those two.
 *
 * @module
 */

/** The programs the supervisor runs besides the configured ones. */
export const TOOLS = ["kill", "ps"] as const;

const decoder = new TextDecoder();

/** Sends `signal` to every process in group `pgid`; false when none was left to signal. */
export async function signalGroup(pgid: number, signal: Deno.Signal): Promise<boolean> {
  if (!(pgid > 1)) throw new RangeError(`Refusing to signal process group ${pgid}`);
  const out = await new Deno.Command("kill", {
    args: ["-s", signal.replace(/^SIG/, ""), "--", `-${pgid}`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

/**
 * The live (not zombie) processes of session `sid`: each child is started
 * in a session of its own (`detached`), so its session is its group and
 * whatever it forked stays in it unless it calls setsid itself.
 */
export async function sessionMembers(sid: number): Promise<number[]> {
  const out = await ps(["-o", "pid=,stat=", "-s", String(sid)]);
  const pids: number[] = [];
  for (const line of out.split("\n")) {
    const [pid, stat] = line.trim().split(/\s+/);
    if (pid && stat && !stat.startsWith("Z")) pids.push(Number(pid));
  }
  return pids;
}

/** Resident memory in bytes of each session in `sids`, summed over its processes. */
export async function sessionRss(sids: number[]): Promise<Map<number, number>> {
  const rss = new Map<number, number>();
  if (sids.length === 0) return rss;
  const out = await ps(["-o", "sid=,rss=", "-s", sids.join(",")]);
  for (const line of out.split("\n")) {
    const [sid, kb] = line.trim().split(/\s+/).map(Number);
    if (sid && kb !== undefined && Number.isFinite(kb)) rss.set(sid, (rss.get(sid) ?? 0) + kb * 1024);
  }
  return rss;
}

async function ps(args: string[]): Promise<string> {
  // ps exits 1 when nothing matched: that is an answer, not a failure.
  const out = await new Deno.Command("ps", { args, stdin: "null", stdout: "piped", stderr: "null" }).output();
  return decoder.decode(out.stdout);
}
