import { dirname, join } from "node:path";
import { dirnamePath, joinPath } from "../lib/_posix_path.ts";
import { assertEquals } from "./assert.ts";

/** Every path of up to `n` pieces drawn from the awkward ones. */
function paths(n: number): string[] {
  const pieces = ["", "/", "//", ".", "..", "a", "bc", "./", "../", "a/", ".a", "..b", "a."];
  let out = [""];
  const all: string[] = [];
  for (let i = 0; i < n; i++) {
    out = out.flatMap((p) => pieces.map((q) => p + q));
    all.push(...out);
  }
  return all;
}

Deno.test("posix path: joinPath and dirnamePath answer what node:path answers", () => {
  const all = paths(4);
  for (const p of all) assertEquals(dirnamePath(p), dirname(p), `dirname(${JSON.stringify(p)})`);
  for (const p of all) {
    for (const q of ["sockd.sock", "", "../x", "./y/", `sockd-1000`]) {
      assertEquals(joinPath(p, q), join(p, q), `join(${JSON.stringify(p)}, ${JSON.stringify(q)})`);
    }
  }
  assertEquals(joinPath(), join());
  assertEquals(joinPath("", ""), join("", ""));
});
