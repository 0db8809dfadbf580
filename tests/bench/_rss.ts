/**
 * Memory of other processes, for the memory figures. Another process's
 * /proc files need `--allow-all` in Deno 2.9, so RSS is read with `ps`
 * (VmRSS, in KiB) and PSS with `cat /proc/PID/smaps_rollup`.
 *
 * @module
 */
import { runOutput } from "./_processes.ts";
import { median, sleep } from "./_stats.ts";

/** The RSS of `pid` in bytes. */
export async function rssOf(pid: number): Promise<number> {
  const kb = Number((await runOutput("ps", ["-o", "rss=", "-p", String(pid)])).trim());
  if (!Number.isFinite(kb) || kb <= 0) throw new Error(`ps gave no RSS for pid ${pid}`);
  return kb * 1024;
}

/** The PSS of `pid` in bytes (NaN when the kernel does not report it). */
export async function pssOf(pid: number): Promise<number> {
  const text = await runOutput("cat", [`/proc/${pid}/smaps_rollup`]);
  const kb = /^Pss:\s+(\d+) kB/m.exec(text);
  return kb ? Number(kb[1]) * 1024 : NaN;
}

/** `pid` and every process below it (a server and its plugin hosts), with their RSS in bytes. */
export async function processTree(pid: number): Promise<{ pid: number; rss: number }[]> {
  const table = (await runOutput("ps", ["-e", "-o", "pid=,ppid=,rss="])).trim().split("\n").map((l) => {
    const [p, pp, rss] = l.trim().split(/\s+/).map(Number);
    return { pid: p!, ppid: pp!, rss: rss! * 1024 };
  });
  const out: { pid: number; rss: number }[] = [];
  const walk = (p: number) => {
    const me = table.find((r) => r.pid === p);
    if (me) out.push({ pid: me.pid, rss: me.rss });
    for (const child of table.filter((r) => r.ppid === p)) walk(child.pid);
  };
  walk(pid);
  return out;
}

/** Median of a few readings taken `gapMs` apart. */
export async function settled(read: () => Promise<number>, samples = 5, gapMs = 100): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    if (i > 0) await sleep(gapMs);
    values.push(await read());
  }
  return median(values);
}
