/**
 * `sockd bridge`: stdin/stdout joined to a socket, run as a subprocess with
 * the sockd permission set, exactly as `ssh HOST sockd bridge` runs it.
 */
import { assert, assertEquals, assertIncludes } from "../assert.ts";
import { DENO, ROOT, runSockd, SOCKD_ARGS, startServer, tempDir } from "../_helpers.ts";
import { connectChannel } from "../../lib/client.ts";
import { streamChannel } from "../../lib/byte_channel.ts";
import { SockdError, Status } from "../../lib/errors.ts";

function spawnBridge(args: string[]): Deno.ChildProcess {
  return new Deno.Command(DENO, {
    args: [...SOCKD_ARGS, "bridge", ...args],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
}

/** The exit code, or a failure after `ms`. */
async function exitWithin(child: Deno.ChildProcess, ms: number): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, rej) =>
    timer = setTimeout(() => rej(new Error(`not exited in ${ms} ms`)), ms)
  );
  try {
    return (await Promise.race([child.status, late])).code;
  } finally {
    clearTimeout(timer);
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  }
}

Deno.test("bridge: bytes both ways; end of stdin half-closes and the answers still come", async () => {
  await using tmp = await tempDir();
  await using _server = await startServer(`${tmp.dir}/s.sock`);
  const r = await runSockd(["bridge", "--socket", `${tmp.dir}/s.sock`], {
    stdin: "ping\necho over the bridge\n",
  });
  assertEquals([r.code, r.stdout, r.stderr], [0, "pong\nover the bridge\n", ""]);
});

Deno.test("bridge: the msgpack client runs over its pipes (a stream pair), cancel included", async () => {
  await using tmp = await tempDir();
  await using _server = await startServer(`${tmp.dir}/s.sock`, ["--plugins", `${ROOT}examples/cmds`]);
  const child = spawnBridge(["--socket", `${tmp.dir}/s.sock`]);
  const client = await connectChannel(streamChannel({ readable: child.stdout, writable: child.stdin }), {
    name: "bridge",
  });
  try {
    assertEquals(await client.call("ping").result, "pong");
    const ticker = client.call("ticker", ["--every", "20"]);
    let ticks = 0;
    try {
      for await (const chunk of ticker) {
        assert(String(chunk).startsWith("tick "));
        if (++ticks === 3) ticker.cancel();
      }
      assert(false, "the stream ended without the cancel");
    } catch (err) {
      assert(err instanceof SockdError && err.remote, String(err));
      assertEquals(err.status, Status.CANCELLED);
    }
  } finally {
    client.close();
  }
  // Its stdin closed and the server, with nothing in flight, closes too: the bridge ends.
  assertEquals(await exitWithin(child, 5000), 0);
});

Deno.test("bridge: exits when the server goes away, though stdin stays open", async () => {
  await using tmp = await tempDir();
  const server = await startServer(`${tmp.dir}/s.sock`);
  const child = spawnBridge(["--socket", `${tmp.dir}/s.sock`]);
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode("ping\n"));
  const reader = child.stdout.getReader();
  assertEquals(new TextDecoder().decode((await reader.read()).value), "pong\n");
  await server.stop();
  assertEquals(await exitWithin(child, 5000), 0);
  reader.releaseLock();
  await child.stdout.cancel().catch(() => {});
  await w.close().catch(() => {});
});

Deno.test("bridge: no server, or a socket it must not trust, is an error on stderr (exit 3)", async (t) => {
  await using tmp = await tempDir();
  await t.step("no server", async () => {
    const r = await runSockd(["bridge", "--socket", `${tmp.dir}/none.sock`], { stdin: "ping\n" });
    assertEquals([r.code, r.stdout], [3, ""]);
    assertEquals(r.stderr, `sockd: no server at ${tmp.dir}/none.sock (is sockd serve running?)\n`);
  });
  await using _server = await startServer(`${tmp.dir}/s.sock`);
  await t.step("a socket owned by a stranger, unless --trust-owner names them", async () => {
    await Deno.chown(`${tmp.dir}/s.sock`, 4242, null);
    const r = await runSockd(["bridge", "--socket", `${tmp.dir}/s.sock`], { stdin: "ping\n" });
    assertEquals([r.code, r.stdout], [3, ""]);
    assertIncludes(r.stderr, `is owned by uid 4242`);
    assertIncludes(r.stderr, "refusing to send anything");
    const trusted = await runSockd(["bridge", "--socket", `${tmp.dir}/s.sock`, "--trust-owner", "4242"], {
      stdin: "ping\n",
    });
    assertEquals([trusted.code, trusted.stdout], [0, "pong\n"]);
    await Deno.chown(`${tmp.dir}/s.sock`, 0, null);
  });
  await t.step("a directory others could have put the socket in", async () => {
    await Deno.chmod(tmp.dir, 0o777);
    try {
      const r = await runSockd(["bridge", "--socket", `${tmp.dir}/s.sock`], { stdin: "ping\n" });
      assertEquals([r.code, r.stdout], [3, ""]);
      assertIncludes(r.stderr, "is writable by other users without the sticky bit");
    } finally {
      await Deno.chmod(tmp.dir, 0o700);
    }
  });
});
