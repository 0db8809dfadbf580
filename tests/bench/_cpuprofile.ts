/**
 * Summarizes V8 CPU profiles (`deno run --cpu-prof`): where the samples
 * fall, by function (self time) and by source file.
 *
 *     deno run -R tests/bench/_cpuprofile.ts PROFILE.cpuprofile [--top 30]
 *
 * `deno task bench --profile DIR` profiles the sockd servers and prints this
 * for each.
 *
 * @module
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Self time by key, in µs, and the total. */
export interface ProfileSummary {
  totalUs: number;
  byFunction: [string, number][];
  /** Time with the function anywhere on the stack (each function counted once per sample). */
  inclusive: [string, number][];
  byFile: [string, number][];
  /** Time in V8's pseudo-nodes: (idle), (program), (garbage collector). */
  special: [string, number][];
}

function shortUrl(url: string): string {
  if (!url) return "(native)";
  const npm = /\/npm\/[^/]+\/(.+)$/.exec(url);
  if (npm) return `npm:${npm[1]}`;
  const lib = /\/(lib|commands|tests)\/(.+)$/.exec(url);
  if (lib) return `${lib[1]}/${lib[2]}`;
  if (url.startsWith("ext:")) return url;
  return url.replace(/^file:\/\//, "");
}

function frameKey(f: CallFrame): string {
  return `${f.functionName || "(anonymous)"} ${shortUrl(f.url)}:${f.lineNumber + 1}`;
}

/** Self-time summary of one profile. */
export function summarize(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the next delta to it.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const fn = new Map<string, number>();
  const incl = new Map<string, number>();
  const file = new Map<string, number>();
  const special = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    total += us;
    if (f.functionName.startsWith("(") && !f.url) {
      special.set(f.functionName, (special.get(f.functionName) ?? 0) + us);
      continue;
    }
    const where = shortUrl(f.url);
    fn.set(frameKey(f), (fn.get(frameKey(f)) ?? 0) + us);
    file.set(where, (file.get(where) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const k = frameKey(byId.get(at)!.callFrame);
      if (seen.has(k) || k.startsWith("(root)")) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + us);
    }
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return {
    totalUs: total,
    byFunction: sorted(fn),
    inclusive: sorted(incl),
    byFile: sorted(file),
    special: sorted(special),
  };
}

/** A summary as text: the top `top` functions and files, in % of all samples. */
export function renderSummary(name: string, s: ProfileSummary, top = 20): string {
  const pct = (us: number) => `${(100 * us / (s.totalUs || 1)).toFixed(1).padStart(5)}%`;
  const lines = [`### ${name} (${(s.totalUs / 1e6).toFixed(2)} s sampled)`, ""];
  lines.push(s.special.map(([k, us]) => `${k} ${pct(us).trim()}`).join(", "), "");
  lines.push("self time by function:");
  for (const [k, us] of s.byFunction.slice(0, top)) lines.push(`  ${pct(us)}  ${k}`);
  lines.push("", "total time (function on the stack):");
  for (const [k, us] of s.inclusive.slice(0, top)) lines.push(`  ${pct(us)}  ${k}`);
  lines.push("", "self time by file:");
  for (const [k, us] of s.byFile.slice(0, Math.min(top, 12))) lines.push(`  ${pct(us)}  ${k}`);
  return lines.join("\n");
}

/** Summarizes every `*.cpuprofile` under `dir`. */
export async function summarizeProfiles(dir: string, top = 20): Promise<string> {
  const out: string[] = [`CPU profiles in ${dir}:`];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const path = `${d}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (e.name.endsWith(".cpuprofile")) {
        const profile = JSON.parse(await Deno.readTextFile(path)) as CpuProfile;
        out.push("", renderSummary(path, summarize(profile), top));
      }
    }
  };
  await walk(dir);
  if (out.length === 1) out.push("(none written: did the servers exit normally?)");
  return out.join("\n");
}

if (import.meta.main) {
  const args = [...Deno.args];
  const t = args.indexOf("--top");
  const top = t >= 0 ? Number(args.splice(t, 2)[1]) : 25;
  if (args.length === 0) {
    console.error("usage: deno run -R tests/bench/_cpuprofile.ts FILE.cpuprofile... [--top N]");
    Deno.exit(2);
  }
  for (const file of args) {
    const profile = JSON.parse(await Deno.readTextFile(file)) as CpuProfile;
    console.log(renderSummary(file, summarize(profile), top) + "\n");
  }
}
