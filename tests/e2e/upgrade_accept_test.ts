/**
 * No connection attempt fails during an upgrade: clients that connect all
 * along, as a user's scripts and health checks do, are neither refused nor
 * reset while the server process is replaced, because the successor takes
 * the very listening socket (its queue included) rather than a new one
 * renamed over the path.
 */
import type { ServerStatus } from "../../lib/command.ts";
import { isLive } from "../../lib/listener.ts";
import { assert, assertEquals } from "../assert.ts";
import { startServer, tempDir, waitFor } from "../_helpers.ts";
import { callOnce, pidAt, stopAt } from "./_upgrade_kit.ts";

/** How long one attempt (connect, ask, read the answer) may take before it counts as hung. */
const ATTEMPT_MS = 10_000;

/** What `command` prints, run by `sh` (Deno reads /proc/PID/fd and /proc/net/unix only with all permissions). */
async function sh(command: string): Promise<string> {
  const out = await new Deno.Command("sh", { args: ["-c", command], stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout);
}

/** The listening UNIX sockets process `pid` holds, by inode. */
async function listenersOf(pid: number): Promise<string[]> {
  const held = new Set((await sh(`ls -l /proc/${pid}/fd`)).match(/(?<=socket:\[)\d+(?=\])/g) ?? []);
  // /proc/net/unix: "Num RefCount Protocol Flags Type St Inode Path"; St 01 with __SO_ACCEPTCON is listening.
  const table = (await sh("cat /proc/net/unix")).split("\n").slice(1).map((l) => l.trim().split(/\s+/));
  return table.filter((f) => f[3] === "00010000" && f[5] === "01" && held.has(f[6]!)).map((f) => f[6]!);
}

type Outcome = "ok" | "refused" | "reset" | "hung" | "wrong answer";

/** One fresh connection: connect, send `ping` (text), read the answer line. */
async function attempt(path: string): Promise<{ outcome: Outcome; detail?: string }> {
  const deadline = AbortSignal.timeout(ATTEMPT_MS);
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (err) {
    return { outcome: "refused", detail: `${(err as Error).name}: ${(err as Error).message}` };
  }
  const hung = new Promise<"hung">((r) => deadline.addEventListener("abort", () => r("hung")));
  try {
    await conn.write(new TextEncoder().encode("ping\n"));
    let text = "";
    const buf = new Uint8Array(256);
    while (!text.includes("\n")) {
      const n = await Promise.race([conn.read(buf), hung]);
      if (n === "hung") return { outcome: "hung" };
      if (n === null) return { outcome: "reset", detail: `end of stream after ${JSON.stringify(text)}` };
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return text === "pong\n" ? { outcome: "ok" } : { outcome: "wrong answer", detail: JSON.stringify(text) };
  } catch (err) {
    return { outcome: "reset", detail: `${(err as Error).name}: ${(err as Error).message}` };
  } finally {
    conn.close();
  }
}

Deno.test("upgrade: clients connecting all along are never refused nor reset over four upgrades; the socket is the first one's", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/a.sock`;
  await using first = await startServer(path);
  const counts: Record<Outcome, number> = { ok: 0, refused: 0, reset: 0, hung: 0, "wrong answer": 0 };
  const details: string[] = [];
  let stop = false;
  // Four clients, each connecting again as soon as its last connection has its answer.
  const loop = async () => {
    while (!stop) {
      const { outcome, detail } = await attempt(path);
      counts[outcome]++;
      if (detail && details.length < 5) details.push(`${outcome}: ${detail}`);
    }
  };
  try {
    const loops = Array.from({ length: 8 }, loop);
    const pids = [await pidAt(path)];
    const listening = await listenersOf(pids[0]!);
    assertEquals(listening.length, 1, "the first server listens on one socket");
    for (let i = 0; i < 4; i++) {
      const before = counts.ok;
      await waitFor(() => counts.ok >= before + 50, 20_000, "connections between upgrades");
      const answer = await callOnce(path, "upgrade") as { upgraded: boolean; pid: number };
      assertEquals(answer.upgraded, true);
      pids.push(answer.pid);
    }
    // The last process's old one has gone, and connections still come in.
    const before = counts.ok;
    await waitFor(() => counts.ok >= before + 50, 20_000, "connections after the upgrades");
    stop = true;
    await Promise.all(loops);
    const attempts = Object.values(counts).reduce((a, b) => a + b, 0);
    console.log(`4 upgrades (pids ${pids.join(" -> ")}): ${attempts} connections, ${JSON.stringify(counts)}`);
    assertEquals(new Set(pids).size, 5, `five processes in turn: ${pids.join(", ")}`);
    // Not a new socket renamed over the path: the one the first process bound, with its queue.
    assertEquals(
      await listenersOf(pids.at(-1)!),
      listening,
      "the last process accepts on the first one's socket",
    );
    assertEquals(
      { refused: counts.refused, reset: counts.reset, hung: counts.hung, wrong: counts["wrong answer"] },
      { refused: 0, reset: 0, hung: 0, wrong: 0 },
      details.join("; "),
    );
    assert(counts.ok >= 250, `at least 250 connections answered (${counts.ok})`);
  } finally {
    stop = true;
    await stopAt(path);
    await first.process.status;
  }
});

Deno.test("upgrade: a second path socket (--listen) moves too, with its access level and its own socket", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/a.sock`;
  const ro = `${tmp.dir}/ro.sock`;
  await using first = await startServer(path, ["--listen", `${ro},access=read,mode=640`]);
  try {
    // startServer waits for the first socket; the second may be bound a moment later.
    await waitFor(() => isLive(ro).catch(() => false), 10_000, "ro.sock to listen");
    const pid = await pidAt(ro);
    const before = (await listenersOf(pid)).sort();
    assertEquals(before.length, 2, "two listening sockets");
    const answer = await callOnce(path, "upgrade") as { upgraded: boolean; pid: number };
    const status = await callOnce(ro, "status") as ServerStatus;
    assertEquals(status.pid, answer.pid, "the read-only socket reaches the successor");
    assertEquals(
      status.listeners.map((l) => [l.path, l.access, l.mode]),
      [[path, "admin", "0600"], [ro, "read", "0640"]],
    );
    assertEquals((await Deno.lstat(ro)).mode! & 0o777, 0o640, "the file keeps its mode");
    const err = await callOnce(ro, "shutdown").then(() => undefined, (e: Error) => e);
    assert(
      err && /needs access level admin/.test(err.message),
      `shutdown refused on ro.sock: ${err?.message}`,
    );
    await waitFor(async () => (await listenersOf(pid)).length === 0, 10_000, "the old process to stop");
    assertEquals((await listenersOf(answer.pid)).sort(), before, "the successor holds the same two sockets");
  } finally {
    await stopAt(path);
    await first.process.status;
  }
});
