/**
 * `deno task mutants [NAME-PART...]`: puts each deliberate bug of
 * tests/mutants/mutants.ts into a temporary copy of the repository, one at a
 * time, runs the test files that must catch it, and prints a table of
 * caught / survived. Exits 1 when a mutant survives (or its test run fails
 * without naming a failed test: that is not a catch), 2 when the list no
 * longer fits the code (a `find` not found exactly once, a test file
 * missing) or the tests fail without any mutant.
 *
 * With NAME-PART arguments only the mutants whose name includes one of them
 * run. Not part of `deno task test` or CI: it takes minutes.
 */
import { type Mutant, mutants } from "./mutants.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
/** A test run longer than this counts as a hang, which catches the mutant. */
const RUN_TIMEOUT_MS = 120_000;
/** What the copy leaves out: history, build output, caches. */
const SKIP = new Set([".git", "dist", "node_modules", "bench-results.json"]);

interface Outcome {
  mutant: Mutant;
  /** "NO TEST FAILED": the run failed without naming a failed test (a syntax error the mutant made, a crash). */
  result: "caught" | "caught (hang)" | "SURVIVED" | "NO TEST FAILED";
  ms: number;
  failed: string[];
}

/** What is wrong with the list against the code under `root`: a line each; empty when all fit. */
export async function checkList(list: Mutant[], root = ROOT): Promise<string[]> {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const m of list) {
    if (names.has(m.name)) problems.push(`${m.name}: the name is used twice`);
    names.add(m.name);
    let text: string;
    try {
      text = await Deno.readTextFile(`${root}${m.file}`);
    } catch (err) {
      problems.push(`${m.name}: cannot read ${m.file}: ${(err as Error).message}`);
      continue;
    }
    const count = text.split(m.find).length - 1;
    if (count !== 1) {
      problems.push(`${m.name}: ${JSON.stringify(m.find)} occurs ${count} times in ${m.file}, not once`);
    }
    if (m.find === m.replace) problems.push(`${m.name}: replace is the same as find`);
    if (m.tests.length === 0) problems.push(`${m.name}: no test files named`);
    for (const t of m.tests) {
      try {
        await Deno.stat(`${root}${t}`);
      } catch {
        problems.push(`${m.name}: test file ${t} does not exist`);
      }
    }
  }
  return problems;
}

/** Copies the working tree (uncommitted edits included) to `dest`. */
async function copyTree(src: string, dest: string) {
  await Deno.mkdir(dest, { recursive: true });
  for await (const entry of Deno.readDir(src)) {
    if (SKIP.has(entry.name) || entry.name.startsWith(".sockd-")) continue;
    const from = `${src}/${entry.name}`;
    const to = `${dest}/${entry.name}`;
    if (entry.isDirectory) await copyTree(from, to);
    else if (entry.isFile) await Deno.copyFile(from, to);
    else if (entry.isSymlink) await Deno.symlink(await Deno.readLink(from), to);
  }
}

/** Runs `deno test` on `files` in `root`; whether it passed, which tests failed, and whether it hung. */
async function runTests(root: string, files: string[]) {
  const child = new Deno.Command("deno", {
    // No type check: a mutant must be caught by a test, not by the compiler.
    args: ["test", "-P=test", "--no-check", "--fail-fast", ...files],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill("SIGKILL");
  }, RUN_TIMEOUT_MS);
  const out = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  // The summary at the end names each failed test: "NAME => ./FILE:LINE:COL".
  const summary = text.slice(text.lastIndexOf(" FAILURES "));
  const failed = [...summary.matchAll(/^(.+?) => \S+:\d+:\d+$/gm)].map((m) => m[1]!.trim());
  return { passed: out.success, hung, failed, text };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

async function main(args: string[]): Promise<number> {
  const list = args.length === 0 ? mutants : mutants.filter((m) => args.some((a) => m.name.includes(a)));
  if (list.length === 0) {
    console.error(`mutants: none matches ${args.join(", ")}`);
    return 2;
  }
  const problems = await checkList(list);
  if (problems.length > 0) {
    console.error("mutants: the list no longer fits the code:\n  " + problems.join("\n  "));
    return 2;
  }
  const t0 = performance.now();
  const copy = await Deno.makeTempDir({ prefix: "sockd-mutants-" });
  try {
    await copyTree(ROOT.replace(/\/$/, ""), copy);
    // The tests must pass without any mutant, or "caught" means nothing.
    const allTests = [...new Set(list.flatMap((m) => m.tests))].sort();
    console.error(`mutants: ${list.length} mutants; baseline run of ${allTests.length} test files`);
    const base = await runTests(copy, allTests);
    if (!base.passed) {
      console.error(`mutants: the tests fail without any mutant:\n${base.text}`);
      return 2;
    }
    const outcomes: Outcome[] = [];
    for (const m of list) {
      const file = `${copy}/${m.file}`;
      const original = await Deno.readTextFile(file);
      await Deno.writeTextFile(file, original.replace(m.find, () => m.replace));
      const start = performance.now();
      try {
        const run = await runTests(copy, m.tests);
        const result = run.hung
          ? "caught (hang)"
          : run.passed
          ? "SURVIVED"
          : run.failed.length > 0
          ? "caught"
          : "NO TEST FAILED";
        const failed = result === "NO TEST FAILED"
          ? [run.text.split("\n").find((l) => l.startsWith("error:")) ?? "(see deno test's output)"]
          : run.failed;
        outcomes.push({ mutant: m, result, ms: performance.now() - start, failed });
        console.error(`mutants: ${result.padEnd(13)} ${m.name}`);
      } finally {
        await Deno.writeTextFile(file, original);
      }
    }
    const rows = [["mutant", "file", "result", "time", "failed test"]];
    for (const o of outcomes) {
      rows.push([
        o.mutant.name,
        o.mutant.file,
        o.result,
        `${(o.ms / 1000).toFixed(1)} s`,
        o.failed[0] ?? (o.result === "SURVIVED" ? `(${o.mutant.tests.join(" ")})` : ""),
      ]);
    }
    console.log(table(rows));
    const survived = outcomes.filter((o) => o.result === "SURVIVED").length;
    const broken = outcomes.filter((o) => o.result === "NO TEST FAILED").length;
    const caught = outcomes.length - survived - broken;
    console.log(
      `\n${caught} caught, ${survived} survived, ${broken} failed to run, in ${
        ((performance.now() - t0) / 1000).toFixed(0)
      } s`,
    );
    return caught === outcomes.length ? 0 : 1;
  } finally {
    await Deno.remove(copy, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
