import { bindSocket, ListenError, resolveGroup } from "../lib/listener.ts";
import { silentLogger } from "../lib/log.ts";
import { describeOwner } from "../lib/socket_trust.ts";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { tempDir } from "./_helpers.ts";

/** A group this process may give a file to: any non-root one as root, else its own. */
async function usableGroup(): Promise<{ name: string; gid: number }> {
  const lines = (await Deno.readTextFile("/etc/group")).split("\n").map((l) => l.split(":"));
  if (Deno.uid() === 0) {
    const g = lines.find(([name, , gid]) => name && gid && gid !== "0")!;
    return { name: g[0]!, gid: Number(g[2]) };
  }
  const own = Deno.gid()!;
  return { name: lines.find(([, , gid]) => Number(gid) === own)?.[0] ?? String(own), gid: own };
}

Deno.test("listener: mode and group are set before the path exists", async () => {
  await using tmp = await tempDir();
  const group = await usableGroup();
  const bound = await bindSocket({ path: `${tmp.dir}/g.sock`, mode: 0o660, group: group.name }, silentLogger);
  try {
    const info = await Deno.lstat(bound.path);
    assertEquals(info.mode! & 0o777, 0o660);
    assertEquals(info.gid, group.gid);
  } finally {
    bound.close();
  }
});

Deno.test("listener: group names resolve through /etc/group; unknown ones are refused clearly", async () => {
  assertEquals(await resolveGroup("0"), 0);
  assertEquals(await resolveGroup((await usableGroup()).name), (await usableGroup()).gid);
  await assertRejects(
    () => resolveGroup("no-such-group-xyz"),
    ListenError,
    'Unknown group "no-such-group-xyz"',
  );
});

Deno.test("listener: takeover replaces a live socket atomically; the old one keeps its connections", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/t.sock`;
  const old = await bindSocket({ path }, silentLogger);
  const oldConn = await Deno.connect({ transport: "unix", path });
  const oldAccepted = await old.listener.accept();

  await assertRejects(() => bindSocket({ path }, silentLogger), ListenError, "--takeover");
  const next = await bindSocket({ path, takeover: true }, silentLogger);
  assert(next.tookOver);

  // New connections reach the new listener.
  const newConn = await Deno.connect({ transport: "unix", path });
  const newAccepted = await next.listener.accept();
  await newConn.write(new Uint8Array([1]));
  assertEquals(await newAccepted.read(new Uint8Array(1)), 1);
  // The old connection still works.
  await oldConn.write(new Uint8Array([2]));
  assertEquals(await oldAccepted.read(new Uint8Array(1)), 1);

  // Closing the old server must not remove the new server's socket file.
  old.close();
  assert((await Deno.lstat(path)).isSocket);
  for (const c of [oldConn, oldAccepted, newConn, newAccepted]) c.close();
  next.close();
  await assertRejects(() => Deno.lstat(path), Deno.errors.NotFound);
});

Deno.test("listener: a path longer than a UNIX socket allows is refused with the limit named", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/${"x".repeat(120)}.sock`;
  await assertRejects(() => bindSocket({ path }, silentLogger), ListenError, "107 bytes");
});

Deno.test("listener: a directory group or others may write to is refused unless sticky; nothing is created", async (t) => {
  await using tmp = await tempDir();
  for (const mode of [0o777, 0o775, 0o757]) {
    await t.step(`mode 0${mode.toString(8)}`, async () => {
      const dir = `${tmp.dir}/d${mode.toString(8)}`;
      await Deno.mkdir(dir);
      await Deno.chmod(dir, mode);
      const err = await bindSocket({ path: `${dir}/s.sock` }, silentLogger).then(
        (b) => (b.close(), undefined),
        (e) => e as Error,
      );
      assert(err instanceof ListenError, "refused");
      assertEquals(
        err.message,
        `Refusing to listen: Socket directory ${dir} is writable by other users and has no sticky bit (owner ${
          describeOwner(Deno.uid())
        }, mode 0${
          mode.toString(8)
        }), so they could replace the socket; use a directory only you can write to (chmod go-w ${dir}, or chmod +t for a shared one)`,
      );
      assertEquals([...Deno.readDirSync(dir)], []);
    });
  }
  await t.step("mode 01777 (sticky, like /tmp) and 0755 are fine", async () => {
    for (const mode of [0o1777, 0o755]) {
      const dir = `${tmp.dir}/ok${mode.toString(8)}`;
      await Deno.mkdir(dir);
      await Deno.chmod(dir, mode);
      (await bindSocket({ path: `${dir}/s.sock` }, silentLogger)).close();
    }
  });
  await t.step("a missing directory is named", async () => {
    const err = await bindSocket({ path: `${tmp.dir}/nope/s.sock` }, silentLogger).catch((e) => e as Error);
    assertEquals(
      (err as Error).message,
      `Refusing to listen: Socket directory ${tmp.dir}/nope does not exist`,
    );
  });
});
