/**
 * The server trusts a socket directory only if nobody else can change it,
 * tried the way another local user would attack it: `sockd serve` runs as a
 * subprocess exactly as `deno task sockd` runs it, with TMPDIR pointing at a
 * temp dir so that its default path is `TMPDIR/sockd-UID/sockd.sock`.
 * Another owner is made with `chown` to a numeric uid, which needs root (CI
 * runs as root); elsewhere those steps are reported as ignored.
 */
import { assert, assertEquals, assertIncludes } from "../assert.ts";
import { isLive } from "../../lib/listener.ts";
import { runSockd, spawnSockd, startServer, tempDir, waitFor } from "../_helpers.ts";

const ROOT_ONLY = Deno.uid() !== 0;
/** A uid nobody on the machine uses: the attacker. */
const OTHER_UID = 4242;

/** Runs `sockd serve` with the default path under `tmpdir`; no XDG_RUNTIME_DIR or SOCKD_SOCKET. */
function serveDefault(tmpdir: string) {
  // Empty counts as unset, whatever the environment running the tests has.
  return runSockd(["serve"], {
    env: { TMPDIR: tmpdir, XDG_RUNTIME_DIR: "", SOCKD_SOCKET: "" },
    timeoutMs: 15_000,
  });
}

/** Every path under `dir`, sorted. */
async function tree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    out.push(prefix + e.name);
    if (e.isDirectory) out.push(...await tree(`${dir}/${e.name}`, `${prefix}${e.name}/`));
  }
  return out.sort();
}

Deno.test("socket dirs: the server refuses a default directory someone else could control", async (t) => {
  const uid = Deno.uid()!;

  await t.step("a pre-created 0777 directory", async () => {
    await using tmp = await tempDir();
    const dir = `${tmp.dir}/sockd-${uid}`;
    await Deno.mkdir(dir);
    await Deno.chmod(dir, 0o777);
    const r = await serveDefault(tmp.dir);
    assert(r.code !== 0, `exited ${r.code}`);
    assertIncludes(r.stderr, `Socket directory ${dir} is open to other users`);
    assertIncludes(r.stderr, `owner uid ${uid}`);
    assertIncludes(r.stderr, "mode 0777");
    assertIncludes(r.stderr, "remove it");
    assertEquals(await tree(tmp.dir), [`sockd-${uid}`]);
    assertEquals((await Deno.lstat(dir)).mode! & 0o777, 0o777, "its mode is left as it was");
  });

  await t.step({
    name: "a 0700 directory owned by another uid",
    ignore: ROOT_ONLY,
    fn: async () => {
      await using tmp = await tempDir();
      const dir = `${tmp.dir}/sockd-${uid}`;
      await Deno.mkdir(dir, { mode: 0o700 });
      await Deno.chown(dir, OTHER_UID, OTHER_UID);
      const r = await serveDefault(tmp.dir);
      assert(r.code !== 0, `exited ${r.code}`);
      assertIncludes(r.stderr, `Socket directory ${dir} is not owned by this server's uid ${uid}`);
      assertIncludes(r.stderr, `owner uid ${OTHER_UID}, mode 0700`);
      assertEquals(await tree(tmp.dir), [`sockd-${uid}`]);
    },
  });

  await t.step("a symlink to another directory", async () => {
    await using tmp = await tempDir();
    const target = `${tmp.dir}/elsewhere`;
    await Deno.mkdir(target, { mode: 0o700 });
    const dir = `${tmp.dir}/sockd-${uid}`;
    await Deno.symlink(target, dir);
    const r = await serveDefault(tmp.dir);
    assert(r.code !== 0, `exited ${r.code}`);
    assertIncludes(r.stderr, `Socket directory ${dir} is a symlink (to ${target}`);
    assertEquals(
      await tree(tmp.dir),
      ["elsewhere", `sockd-${uid}`],
      "nothing created, not even in the target",
    );
  });
});

Deno.test("socket dirs: a missing default directory is made private (0700) by serve itself", async () => {
  await using tmp = await tempDir();
  const uid = Deno.uid()!;
  const path = `${tmp.dir}/sockd-${uid}/sockd.sock`;
  const env = { TMPDIR: tmp.dir, XDG_RUNTIME_DIR: "", SOCKD_SOCKET: "" };
  await using server = spawnSockd(["serve"], { env });
  await waitFor(() => isLive(path).catch(() => false), 15_000, "sockd serve on the default path");
  const r = await runSockd(["call", "ping"], { env });
  assertEquals([r.code, r.stdout], [0, "pong\n"]);
  const info = await Deno.lstat(`${tmp.dir}/sockd-${uid}`);
  assert(info.isDirectory);
  assertEquals([info.uid, info.mode! & 0o7777], [uid, 0o700]);
  server.process.kill("SIGTERM");
  assertEquals(await server.exitCode(), 0);
});

Deno.test("socket dirs: an explicit socket in a directory others may write to is refused unless sticky", async (t) => {
  await t.step("world-writable, no sticky bit: refused, nothing created", async () => {
    await using tmp = await tempDir();
    const dir = `${tmp.dir}/open`;
    await Deno.mkdir(dir);
    await Deno.chmod(dir, 0o777);
    const r = await runSockd(["serve", "--socket", `${dir}/a.sock`], { timeoutMs: 15_000 });
    assert(r.code !== 0, `exited ${r.code}`);
    assertIncludes(r.stderr, `Socket directory ${dir} is writable by other users and has no sticky bit`);
    assertIncludes(r.stderr, "mode 0777");
    assertEquals(await tree(dir), []);
  });

  await t.step("a --listen socket there is refused too", async () => {
    await using tmp = await tempDir();
    const dir = `${tmp.dir}/open`;
    await Deno.mkdir(dir);
    await Deno.chmod(dir, 0o777);
    const r = await runSockd(
      ["serve", "--socket", `${tmp.dir}/admin.sock`, "--listen", `${dir}/ro.sock,access=read,mode=666`],
      { timeoutMs: 15_000 },
    );
    assert(r.code !== 0, `exited ${r.code}`);
    assertIncludes(r.stderr, `Socket directory ${dir} is writable by other users and has no sticky bit`);
    assertEquals(await tree(tmp.dir), ["open"], "the admin socket bound first is removed again");
  });

  await t.step({
    name: "a directory owned by another uid: refused",
    ignore: ROOT_ONLY,
    fn: async () => {
      await using tmp = await tempDir();
      const dir = `${tmp.dir}/theirs`;
      await Deno.mkdir(dir, { mode: 0o755 });
      await Deno.chown(dir, OTHER_UID, OTHER_UID);
      const r = await runSockd(["serve", "--socket", `${dir}/a.sock`], { timeoutMs: 15_000 });
      assert(r.code !== 0, `exited ${r.code}`);
      assertIncludes(r.stderr, `Socket directory ${dir} belongs to another user (owner uid ${OTHER_UID}`);
      assertEquals(await tree(dir), []);
    },
  });

  await t.step("world-writable with the sticky bit (like /tmp): served", async () => {
    await using tmp = await tempDir();
    const dir = `${tmp.dir}/shared`;
    await Deno.mkdir(dir);
    await Deno.chmod(dir, 0o1777);
    await using server = await startServer(`${dir}/a.sock`);
    const r = await runSockd(["call", "--socket", `${dir}/a.sock`, "ping"]);
    assertEquals([r.code, r.stdout], [0, "pong\n"]);
    assertEquals(await server.stop(), 0);
  });
});
