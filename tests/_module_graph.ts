/**
 * The module graph Deno reads for a file (`deno info --json`), for tests of
 * what a path of the program loads.
 */
import { assertEquals } from "./assert.ts";
import { DENO, ROOT } from "./_helpers.ts";

/** One import of a module as `deno info` lists it (`code` is missing for a type-only one). */
export type Dep = { specifier: string; code?: { specifier: string }; isDynamic?: boolean };

/** The graph behind `root` (repository-relative). */
export interface ModuleGraph {
  /** Each module's imports, by `file://` specifier. */
  deps: Map<string, Dep[]>;
  /** What `from` (repository-relative, in this graph) loads before it runs: its static imports, `import type` left out; repository-relative. */
  staticFrom(from: string): string[];
}

/** Runs `deno info --json` on `root`. */
export async function moduleGraph(root: string): Promise<ModuleGraph> {
  const out = await new Deno.Command(DENO, {
    args: ["info", "--json", `${ROOT}${root}`],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; dependencies?: Dep[] }[];
  };
  const deps = new Map(info.modules.map((m) => [m.specifier, m.dependencies ?? []]));
  const staticFrom = (from: string) => {
    const loaded = new Set<string>();
    const walk = (specifier: string) => {
      if (loaded.has(specifier)) return;
      loaded.add(specifier);
      for (const d of deps.get(specifier) ?? []) if (!d.isDynamic && d.code) walk(d.code.specifier);
    };
    walk(`file://${ROOT}${from}`);
    return [...loaded].map((s) => s.replace(`file://${ROOT}`, ""));
  };
  return { deps, staticFrom };
}
