import { crc32 } from "node:zlib";
import { concatBytes } from "../lib/_bytes.ts";
import { cachedDenortPath, compileArgs, denortHelp, verifyBuilt } from "../build.ts";
import { VERSION } from "../lib/version.ts";
import { assertEquals, assertIncludes, assertThrows } from "./assert.ts";
import { DENO, ROOT, tempDir } from "./_helpers.ts";

Deno.test("build: compiles main.ts with the sockd permission set and the runtime-loaded files", () => {
  assertEquals(compileArgs(), [
    "compile",
    "-q",
    "-P=sockd",
    "--include",
    "commands/",
    "--include",
    "lib/",
    "--output",
    "dist/sockd",
    "main.ts",
  ]);
  const cross = compileArgs({ target: "aarch64-apple-darwin" });
  assertEquals(cross.slice(cross.indexOf("--target"), cross.indexOf("--target") + 4), [
    "--target",
    "aarch64-apple-darwin",
    "--output",
    "dist/sockd-aarch64-apple-darwin",
  ]);
  const more = compileArgs({ include: ["lib/extra_main.ts", "assets/"] });
  assertEquals(more.slice(3, 11), [
    "--include",
    "commands/",
    "--include",
    "lib/",
    "--include",
    "lib/extra_main.ts",
    "--include",
    "assets/",
  ]);
  assertThrows(() => compileArgs({ target: "pdp11" }), /Unknown target "pdp11"/);
  // A supervising binary carries the run grant for its programs, kill and ps; the sockd set stays as it is.
  assertEquals(compileArgs({ supervise: ["node", "/srv/worker/run"] }).slice(2, 4), [
    "-P=sockd",
    "--allow-run=/proc/self/exe,kill,ps,node,/srv/worker/run",
  ]);
  assertThrows(() => compileArgs({ supervise: ["a,b"] }), /Bad program for --supervise: "a,b"/);
});

Deno.test("build: every permission the binary gets comes from the sockd set, never -A; tasks run quietly", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  assertEquals(typeof config.permissions.sockd, "object");
  const tasks = Object.values(config.tasks as Record<string, string>).join("\n");
  assertEquals(/(^|\s)(-A|--allow-all)(\s|$)/.test(tasks), false);
  assertEquals(config.tasks.sockd, "deno run -q -P=sockd main.ts");
  // Without -q, Deno writes a notice about permission sets in the config file on stderr. (deno test
  // and deno bench are left out: there -q also hides the tests' own output.)
  for (const [name, line] of Object.entries(config.tasks as Record<string, string>)) {
    for (const cmd of line.split("&&")) {
      if (/deno run .*-P=/.test(cmd)) {
        assertEquals(/\s-q\s/.test(cmd), true, `task ${name} runs "${cmd.trim()}" without -q`);
      }
    }
  }
});

Deno.test("build: a DENORT_BIN that does not exist stops with how to provide one", async () => {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-q", "-P=build", "build.ts"],
    cwd: ROOT,
    env: { DENORT_BIN: "/nonexistent/denort" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 1);
  assertIncludes(err, "DENORT_BIN=/nonexistent/denort is not a usable file");
  assertIncludes(err, "DENORT_BIN=/path/to/denort deno task build");
  assertIncludes(err, `or put the .zip, as it is, at `);
  assertIncludes(err, `/dl/release/v${Deno.version.deno}/denort-${Deno.build.target}.zip`);
});

Deno.test("build: --dry-run prints the exact command", async () => {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-q", "-P=build", "build.ts", "--dry-run", "--target", "x86_64-apple-darwin"],
    cwd: ROOT,
    env: { DENORT_BIN: "/opt/denort" },
    stdout: "piped",
  }).output();
  assertEquals(
    new TextDecoder().decode(out.stdout).trim(),
    "DENORT_BIN=/opt/denort deno compile -q -P=sockd --include commands/ --include lib/ --target x86_64-apple-darwin --output dist/sockd-x86_64-apple-darwin main.ts",
  );
  assertIncludes(denortHelp("x86_64-apple-darwin"), "--target x86_64-apple-darwin");
});

Deno.test("build: verifyBuilt accepts only a binary answering sockd's version; plain deno is named as such", async () => {
  const why = await verifyBuilt(DENO);
  assertIncludes(why ?? "", `"${DENO} version" exited 1`);
  assertIncludes(why ?? "", `not "sockd ${VERSION}"`);
  assertIncludes(why ?? "", `It is a copy of plain deno ${Deno.version.deno}`);
  assertIncludes(why ?? "", "DENORT_BIN must name the denort runtime");
  assertIncludes((await verifyBuilt("/nonexistent/sockd")) ?? "", "/nonexistent/sockd does not run");
});

/** A zip archive holding `data` as `name`, stored (no compression), as Deno's release zips hold denort. */
function storedZip(name: string, data: Uint8Array): Uint8Array {
  const file = new TextEncoder().encode(name);
  const crc = crc32(data) >>> 0;
  const local = new DataView(new ArrayBuffer(30));
  local.setUint32(0, 0x04034b50, true);
  local.setUint16(4, 20, true);
  local.setUint32(14, crc, true);
  local.setUint32(18, data.length, true);
  local.setUint32(22, data.length, true);
  local.setUint16(26, file.length, true);
  const central = new DataView(new ArrayBuffer(46));
  central.setUint32(0, 0x02014b50, true);
  central.setUint16(4, 0x031e, true); // made by UNIX, so the mode below is honoured
  central.setUint16(6, 20, true);
  central.setUint32(16, crc, true);
  central.setUint32(20, data.length, true);
  central.setUint32(24, data.length, true);
  central.setUint16(28, file.length, true);
  central.setUint32(38, (0o100755 << 16) >>> 0, true);
  const centralAt = 30 + file.length + data.length;
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, 1, true);
  end.setUint16(10, 1, true);
  end.setUint32(12, 46 + file.length, true);
  end.setUint32(16, centralAt, true);
  const parts = [new Uint8Array(local.buffer), file, data, new Uint8Array(central.buffer), file];
  parts.push(new Uint8Array(end.buffer));
  return concatBytes(parts);
}

/** Copies what `deno task build` reads into `dir`, so a test build never touches the checkout's dist/. */
async function copyCheckout(dir: string): Promise<void> {
  const copy = async (rel: string) => {
    const info = await Deno.stat(`${ROOT}${rel}`);
    if (info.isDirectory) {
      await Deno.mkdir(`${dir}/${rel}`, { recursive: true });
      for await (const e of Deno.readDir(`${ROOT}${rel}`)) await copy(`${rel}/${e.name}`);
    } else {
      await Deno.copyFile(`${ROOT}${rel}`, `${dir}/${rel}`);
    }
  };
  await Deno.mkdir(dir, { recursive: true });
  for (const rel of ["deno.json", "deno.lock", "main.ts", "build.ts", "lib", "commands"]) await copy(rel);
}

Deno.test("build: uses a denort archive in Deno's cache, and fails when what it built is not sockd", async () => {
  const ELF = ["/usr/bin/true", "/bin/true"].find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  })!;
  await using tmp = await tempDir();
  const tree = `${tmp.dir}/sockd`;
  await copyCheckout(tree);
  // A Deno cache with the real one's packages and, as the denort archive, a zip of `true`: an ELF
  // program that ignores what deno compile appends to it, as plain deno would.
  const info = JSON.parse(
    new TextDecoder().decode((await new Deno.Command(DENO, { args: ["info", "--json"] }).output()).stdout),
  );
  const cache = `${tmp.dir}/deno-dir`;
  await Deno.mkdir(cache);
  for await (const e of Deno.readDir(info.denoDir)) {
    if (e.name !== "dl") await Deno.symlink(`${info.denoDir}/${e.name}`, `${cache}/${e.name}`);
  }
  const archive = cachedDenortPath(cache);
  await Deno.mkdir(archive.replace(/\/[^/]*$/, ""), { recursive: true });
  await Deno.writeFile(archive, storedZip("denort", await Deno.readFile(ELF)));

  const out = await new Deno.Command(DENO, {
    args: ["run", "-q", "-P=build", "build.ts"],
    cwd: tree,
    env: { DENO_DIR: cache },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 1, err);
  assertIncludes(err, `build: using the denort archive in Deno's cache: ${archive}`);
  assertIncludes(err, "build: FAILED: dist/sockd is not a working sockd; do not ship it (rm dist/sockd).");
  assertIncludes(err, `"dist/sockd version" exited 0 and printed "", not "sockd ${VERSION}".`);
  assertEquals((await Deno.stat(`${tree}/dist/sockd`)).size > (await Deno.stat(ELF)).size, true);
});

Deno.test("build: DENORT_BIN naming plain deno fails, saying the output is a copy of deno", async () => {
  await using tmp = await tempDir();
  await copyCheckout(tmp.dir);
  const out = await new Deno.Command(DENO, {
    args: ["run", "-q", "-P=build", "build.ts"],
    cwd: tmp.dir,
    env: { DENORT_BIN: Deno.execPath() },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 1, err);
  assertIncludes(err, "build: FAILED: dist/sockd is not a working sockd");
  assertIncludes(err, `It is a copy of plain deno ${Deno.version.deno}`);
});
