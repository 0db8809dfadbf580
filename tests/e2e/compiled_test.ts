/**
 * The compiled binary itself: `deno task build` writes dist/sockd, which then
 * serves a directory of TypeScript plugins read from disk at run time (one
 * importing a local TypeScript helper, one with a grant in sockd.json, one
 * denied what it was not granted) and calls them with its own client.
 *
 * `deno compile` needs the denort runtime of this Deno version, which the
 * build machines cannot download: the test runs when DENORT_BIN names it or
 * its archive is in Deno's cache, and otherwise says plainly that it did not
 * run (and is reported as ignored).
 */
import { cachedDenortPath } from "../../build.ts";
import { isLive } from "../../lib/listener.ts";
import { VERSION } from "../../lib/version.ts";
import { assertEquals, assertIncludes } from "../assert.ts";
import { DENO, ROOT, tempDir, waitFor } from "../_helpers.ts";

const BINARY = `${ROOT}dist/sockd`;

/** Where a denort for this Deno comes from, or undefined when there is none. */
async function denortSource(): Promise<string | undefined> {
  const isFile = (p: string) => Deno.stat(p).then((i) => i.isFile, () => false);
  const bin = Deno.env.get("DENORT_BIN");
  if (bin) return await isFile(bin) ? `DENORT_BIN=${bin}` : undefined;
  const out = await new Deno.Command(DENO, { args: ["info", "--json"], stderr: "null" }).output();
  const archive = cachedDenortPath(JSON.parse(new TextDecoder().decode(out.stdout)).denoDir);
  return await isFile(archive) ? archive : undefined;
}

const SOURCE = await denortSource();
if (SOURCE === undefined) {
  console.log(
    `tests/e2e/compiled_test.ts: NOT RUN: no denort runtime for deno ${Deno.version.deno} ` +
      `(${Deno.build.target}): DENORT_BIN is unset and Deno's cache holds no denort archive, so the compiled ` +
      "binary was not built or tested on this machine (see README, Building the single binary).",
  );
}

const HELPER = `export interface Shape { sides: number; name: string }
export function describe(s: Shape): string {
  return \`\${s.name} has \${s.sides} sides\`;
}
`;
const SHAPES = `import type { Command } from "sockd";
import { describe, type Shape } from "./_shapes.ts";

const square: Shape = { sides: 4, name: "square" };
export default {
  name: "shape",
  summary: "A TypeScript plugin importing a TypeScript helper from disk",
  run: (): string => describe(square),
} satisfies Command;
`;
function secretPlugin(path: string): string {
  return `export default { name: "secret", summary: "Reads the granted file", run: () => Deno.readTextFile(${
    JSON.stringify(path)
  }) };\n`;
}

/** Runs the binary with `args`; returns exit code, stdout, stderr. */
async function binary(args: string[], cwd: string) {
  const out = await new Deno.Command(BINARY, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  name: "compiled: dist/sockd serves TypeScript plugins from disk, with grants, and calls them",
  ignore: SOURCE === undefined,
  async fn(t) {
    await using tmp = await tempDir();
    await t.step(`deno task build (denort from ${SOURCE}) verifies the binary`, async () => {
      const out = await new Deno.Command(DENO, {
        args: ["task", "-q", "build"],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(300_000),
      }).output();
      const err = new TextDecoder().decode(out.stderr);
      assertEquals(out.code, 0, err);
      assertIncludes(err, `verified: "dist/sockd version" prints "sockd ${VERSION}"`);
    });

    const plugins = `${tmp.dir}/cmds`;
    await Deno.mkdir(plugins);
    const secretFile = `${tmp.dir}/secret.txt`;
    await Deno.writeTextFile(secretFile, "s3cret");
    await Deno.writeTextFile(`${plugins}/_shapes.ts`, HELPER);
    await Deno.writeTextFile(`${plugins}/shapes.ts`, SHAPES);
    await Deno.writeTextFile(`${plugins}/secret.ts`, secretPlugin(secretFile));
    await Deno.writeTextFile(
      `${plugins}/peek.ts`,
      `export default { name: "peek", summary: "Reads what it was not granted", run: () => Deno.readTextFile("/etc/hostname") };\n`,
    );
    await Deno.writeTextFile(
      `${plugins}/sockd.json`,
      JSON.stringify({ plugins: { "secret.ts": { read: [secretFile] } } }),
    );

    const sock = `${tmp.dir}/s.sock`;
    const server = new Deno.Command(BINARY, {
      args: ["serve", "--socket", sock, "--plugins", plugins],
      cwd: tmp.dir,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const serverOut = server.output();
    try {
      await waitFor(() => isLive(sock).catch(() => false), 20_000, "dist/sockd serve");
      await t.step(
        "built-ins, a TS plugin importing TS from disk, a granted read, a denied read",
        async () => {
          assertEquals(await binary(["call", "--socket", sock, "ping"], tmp.dir), {
            code: 0,
            stdout: "pong\n",
            stderr: "",
          });
          const shape = await binary(["call", "--socket", sock, "shape"], tmp.dir);
          assertEquals([shape.code, shape.stdout, shape.stderr], [0, "square has 4 sides\n", ""]);
          const secret = await binary(["call", "--socket", sock, "secret"], tmp.dir);
          assertEquals([secret.code, secret.stdout, secret.stderr], [0, "s3cret\n", ""]);
          const peek = await binary(["call", "--socket", sock, "peek"], tmp.dir);
          assertEquals(peek.code, 1, "a read that was not granted fails the call (105)");
          assertIncludes(peek.stderr, "/etc/hostname");
          const version = await binary(["call", "--socket", sock, "version"], tmp.dir);
          assertIncludes(version.stdout, `sockd ${VERSION}`);
        },
      );
    } finally {
      server.kill("SIGTERM");
    }
    const out = await serverOut;
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  },
});
