/**
 * The supervisor behind the control socket, against real child processes
 * (small sh scripts): a server embedded in the test, called over its socket.
 */
import { type Call, type Client, connect } from "../../lib/client.ts";
import { Status } from "../../lib/errors.ts";
import { serve, type Server } from "../../lib/server.ts";
import type { ProcessEvent, ProcessInfo } from "../../lib/supervise/types.ts";
import { assert, assertEquals, assertIncludes, assertStatus, caught } from "../assert.ts";
import { tempDir, waitFor } from "../_helpers.ts";

/** Live (not zombie) processes of session `sid`: what is left of a child's group. */
async function groupMembers(sid: number): Promise<string[]> {
  const out = await new Deno.Command("ps", { args: ["-o", "pid=,stat=", "-s", String(sid)] }).output();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.trim())
    .filter((l) => l && !l.split(/\s+/)[1]!.startsWith("Z"));
}

async function withServer(
  processes: Record<string, unknown>,
  fn: (client: Client, server: Server, dir: string) => Promise<void>,
  extra: { listeners?: { path: string; access: "read" }[]; file?: boolean } = {},
) {
  await using tmp = await tempDir();
  let supervise: string | Record<string, unknown> = { processes };
  if (extra.file) {
    supervise = `${tmp.dir}/sockd.json`;
    await Deno.writeTextFile(supervise, JSON.stringify({ processes }));
  }
  const server = await serve({
    path: `${tmp.dir}/s.sock`,
    supervise,
    listeners: extra.listeners?.map((l) => ({ ...l, path: `${tmp.dir}/${l.path}` })),
  });
  const client = await connect(server.path);
  try {
    await fn(client, server, tmp.dir);
  } finally {
    client.close();
    await server.close();
  }
}

/** Cancels a streaming call and waits for the server to end it (106). */
async function end(call: Call) {
  call.cancel();
  assertStatus(await caught(call.result), Status.CANCELLED);
}

const info = async (c: Client, name: string) =>
  await c.call("ps", [name, "--json"]).result as unknown as ProcessInfo;

Deno.test("supervise: a well-behaved process shows in ps, logs -n and -f show its output, stop and start", async () => {
  const ticker = {
    command: "sh",
    args: ["-c", 'i=0; while true; do i=$((i+1)); echo "line $i"; echo "err $i" >&2; sleep 0.02; done'],
    minUptimeMs: 0,
    stopTimeoutMs: 2000,
  };
  await withServer({ ticker }, async (client) => {
    const first = await info(client, "ticker");
    assertEquals(first.state, "running");
    assert(first.pid! > 1, `pid ${first.pid}`);
    assert(first.rssBytes! > 0, `rss ${first.rssBytes}`);
    const table = await client.call("ps").result as string;
    assertIncludes(table, "NAME    STATE    PID");
    assert(new RegExp(`^ticker  running  ${first.pid} `, "m").test(table), table);

    await waitFor(async () => (await tail(client, 5)).length === 5, 5000, "five lines of output");
    const five = await tail(client, 5);
    assert(five.every((l, i) => l === `line ${Number(five[0]!.slice(5)) + i}`), five.join("|"));
    assert((await tail(client, 2, ["--stderr"]))[0]!.startsWith("err "));

    // -f: a persistent stream of what it writes from now on.
    const follow = client.call("logs", ["ticker", "-n", "0", "-f"]);
    let followed = "";
    for await (const chunk of follow) {
      followed += chunk as string;
      if (followed.split("\n").length > 3) break;
    }
    await end(follow);
    assert(/^line \d+\n/.test(followed), followed);

    const stopped = await client.call("stop", ["ticker", "--json"]).result as unknown as ProcessInfo;
    assertEquals(stopped.state, "stopped");
    assertEquals(stopped.exitSignal, "SIGTERM");
    // stop answered only once the whole group was gone.
    assertEquals(await groupMembers(first.pid!), []);
    assertEquals(
      await client.call("start", ["ticker"]).result,
      `ticker: running (pid ${(await info(client, "ticker")).pid})`,
    );
    const again = await info(client, "ticker");
    assert(again.pid !== first.pid && again.state === "running", JSON.stringify(again));
    const restarted = await client.call("restart", ["ticker", "--json"]).result as unknown as ProcessInfo;
    assert(restarted.pid !== again.pid && restarted.state === "running", JSON.stringify(restarted));
    assertEquals(await groupMembers(again.pid!), []);
  });
});

async function tail(client: Client, n: number, more: string[] = []): Promise<string[]> {
  let text = "";
  for await (const c of client.call("logs", ["ticker", "-n", String(n), ...more])) text += c as string;
  return text.split("\n").filter(Boolean);
}

Deno.test("supervise: a crash-looping process backs off longer each time, then is fatal; events stream every change", async () => {
  const crash = {
    command: "sh",
    args: ["-c", "echo boom >&2; exit 3"],
    autostart: false,
    backoffMs: 40,
    backoffMaxMs: 1000,
    minUptimeMs: 5000,
    maxRestarts: 3,
  };
  await withServer({ crash }, async (client) => {
    const stream = client.call("events", ["crash", "--json"]);
    const events: ProcessEvent[] = [];
    const seen = (async () => {
      for await (const e of stream) {
        events.push(e as unknown as ProcessEvent);
        if (events.at(-1)!.state === "fatal") return;
      }
    })();
    await client.call("start", ["crash"]).result;
    await seen;
    await end(stream);
    const states = events.map((e) => `${e.from}>${e.state}`);
    assertEquals(states, [
      "stopped>starting",
      "starting>backoff",
      "backoff>starting",
      "starting>backoff",
      "backoff>starting",
      "starting>backoff",
      "backoff>starting",
      "starting>fatal",
    ]);
    assertEquals(events.filter((e) => e.state === "backoff").map((e) => e.delayMs), [40, 80, 160]);
    assert(events.filter((e) => e.state === "backoff").every((e) => e.exitCode === 3));
    const fatal = await info(client, "crash");
    assertEquals([fatal.state, fatal.restarts, fatal.exitCode], ["fatal", 3, 3]);
    assertIncludes(fatal.error!, "Failed to stay up 4 times in a row");
    // The human form says the same, one line per change.
    let text = "";
    const replay = client.call("events", ["crash", "--replay", "2"]);
    for await (const c of replay) {
      text += c as string;
      if (text.split("\n").length > 2) break;
    }
    await end(replay);
    assert(
      /crash backoff -> starting \(pid \d+, restarts 3\)\n.* crash starting -> fatal \(exit 3, restarts 3, Failed/
        .test(text),
      text,
    );
  });
});

Deno.test("supervise: a process that ignores SIGTERM is killed with its children after the stop timeout", async () => {
  const stubborn = {
    command: "sh",
    // The ignored SIGTERM is inherited by the two sleeps: the whole group ignores it.
    args: ["-c", "trap '' TERM; sleep 300 & sleep 300 & echo up; wait"],
    minUptimeMs: 0,
    stopTimeoutMs: 300,
  };
  await withServer({ stubborn }, async (client) => {
    const { pid } = await info(client, "stubborn");
    await waitFor(async () => (await groupMembers(pid!)).length === 3, 5000, "sh and its two sleeps");
    const t0 = performance.now();
    const stopped = await client.call("stop", ["stubborn", "--json"]).result as unknown as ProcessInfo;
    const ms = performance.now() - t0;
    assertEquals(stopped.state, "stopped");
    assertEquals(stopped.exitSignal, "SIGKILL");
    assert(ms >= 300 && ms < 3000, `stop took ${ms} ms`);
    assertEquals(await groupMembers(pid!), []);
  });
});

Deno.test("supervise: reload adds one process, removes another, and leaves the third running with the same pid", async () => {
  const sleeper = (s: string) => ({
    command: "sh",
    args: ["-c", `echo ${s}; exec sleep 300`],
    minUptimeMs: 0,
  });
  await withServer({ keep: sleeper("keep"), drop: sleeper("drop") }, async (client, _server, dir) => {
    const keep = await info(client, "keep");
    const drop = await info(client, "drop");
    await Deno.writeTextFile(
      `${dir}/sockd.json`,
      JSON.stringify({ processes: { keep: sleeper("keep"), add: sleeper("add") } }),
    );
    const report = await client.call("reload", ["--json"]).result as { processes: unknown };
    assertEquals(report.processes, { added: ["add"], changed: [], removed: ["drop"], unchanged: ["keep"] });
    const list = await client.call("ps", ["--json"]).result as unknown as ProcessInfo[];
    assertEquals(list.map((p) => [p.name, p.state]), [["keep", "running"], ["add", "running"]]);
    assertEquals(list[0]!.pid, keep.pid);
    assertEquals(await groupMembers(drop.pid!), []);
    const err = await caught(client.call("ps", ["drop"]).result);
    assertStatus(err, Status.BAD_ARGS);
    assertEquals(err.message, `Unknown process "drop" (see ps)`);
    // A broken file changes nothing and says why.
    await Deno.writeTextFile(`${dir}/sockd.json`, `{"processes": {"keep": {"command": ""}}}`);
    const failed = await caught(client.call("reload").result);
    assertStatus(failed, Status.HANDLER_ERROR);
    assertIncludes(failed.message, `process "keep": "command" must be a non-empty string`);
    assertEquals((await info(client, "keep")).pid, keep.pid);
  }, { file: true });
});

Deno.test("supervise: a read-only socket may look but not stop; unknown names and signals are refused", async () => {
  const idle = { command: "sh", args: ["-c", "exec sleep 300"], minUptimeMs: 0, backoffMs: 50 };
  await withServer({ idle }, async (client, server) => {
    const ro = await connect(server.listeners[1]!.path);
    try {
      assertEquals(
        (await ro.call("ps", ["idle", "--json"]).result as unknown as ProcessInfo).state,
        "running",
      );
      assertStatus(await caught(ro.call("stop", ["idle"]).result), Status.FORBIDDEN);
      assertStatus(await caught(ro.call("signal", ["idle", "HUP"]).result), Status.FORBIDDEN);
    } finally {
      ro.close();
    }
    const typo = await caught(client.call("stop", ["idel"]).result);
    assertEquals(typo.message, `Unknown process "idel" (did you mean "idle"?)`);
    const sig = await caught(client.call("signal", ["idle", "NOPE"]).result);
    assertStatus(sig, Status.BAD_ARGS);
    assertEquals(sig.message, `Unknown signal "NOPE" (use a name such as TERM, HUP, USR1)`);
    assertEquals(await client.call("signal", ["idle", "term"]).result, "sent");
    await waitFor(async () => (await info(client, "idle")).restarts === 1, 5000, "a restart after SIGTERM");
    await waitFor(async () => (await info(client, "idle")).state === "running", 5000, "running again");
    assertEquals(await client.call("signal", ["idle", "SIGUSR1", "--group"]).result, "sent");
    await waitFor(
      async () => (await info(client, "idle")).restarts === 2,
      5000,
      "a restart after SIGUSR1 to the group",
    );
    assertEquals((await info(client, "idle")).exitSignal, "SIGUSR1");
  }, { listeners: [{ path: "ro.sock", access: "read" }] });
});

Deno.test("supervise: onShutdown leave leaves the children running when the server stops; stop (default) stops them", async () => {
  await using tmp = await tempDir();
  const idle = { command: "sh", args: ["-c", "exec sleep 300"], minUptimeMs: 0 };
  const pids: number[] = [];
  for (const onShutdown of ["leave", "stop"]) {
    const server = await serve({
      path: `${tmp.dir}/${onShutdown}.sock`,
      supervise: { onShutdown, processes: { idle } },
    });
    const client = await connect(server.path);
    const { pid } = await info(client, "idle");
    pids.push(pid!);
    client.close();
    await server.close();
  }
  try {
    assertEquals((await groupMembers(pids[0]!)).length, 1, "the left child is still running");
    assertEquals(await groupMembers(pids[1]!), []);
  } finally {
    // Deno.kill needs the blanket run permission; the test set grants the kill program.
    await new Deno.Command("kill", { args: ["-s", "KILL", String(pids[0])] }).output();
  }
});
