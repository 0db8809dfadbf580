import { assert, assertEquals } from "../assert.ts";
import { fleetHosts, hostProblem, parseHostsFile } from "../../lib/fleet/hosts.ts";
import { shellQuote, sshCommandArgs } from "../../lib/fleet/ssh_client.ts";
import { fanOut } from "../../lib/fleet/fan_out.ts";
import { HostLines } from "../../lib/cli/_host_lines.ts";

Deno.test("fleet hosts: what ssh accepts passes, what it would read as an option does not", () => {
  for (const ok of ["lb1", "deploy@lb1.example.net", "ssh://root@10.0.0.1:2222", "[::1]", "a-b_c"]) {
    assertEquals(hostProblem(ok), undefined, ok);
  }
  for (
    const [bad, why] of [
      ["-oProxyCommand=sh", 'starts with "-"'],
      ["", "Empty host"],
      ["a b", "blank or a control character"],
      ["a\tb", "blank or a control character"],
      ["a\x00", "blank or a control character"],
      ["x".repeat(1025), "longer than 1024"],
    ]
  ) {
    const problem = hostProblem(bad!);
    assert(problem?.includes(why!), `${JSON.stringify(bad)}: ${problem}`);
  }
});

Deno.test("fleet hosts: a hosts file skips comments and blank lines, names a bad line", () => {
  assertEquals(parseHostsFile("# fleet\n lb1 \n\nlb2 # old\n#lb3\n"), ["lb1", "lb2"]);
  try {
    parseHostsFile("lb1\n-F/etc/passwd\n", "hosts.txt");
    assert(false, "a bad line accepted");
  } catch (e) {
    assertEquals(
      (e as Error).message,
      'hosts.txt, line 2: Host "-F/etc/passwd" starts with "-" (ssh would read it as an option)',
    );
  }
});

Deno.test("fleet hosts: each host once, in the order given; none is an error", () => {
  assertEquals(fleetHosts(["b", "a", "b", "c", "a"]), ["b", "a", "c"]);
  try {
    fleetHosts([]);
    assert(false, "no hosts accepted");
  } catch (e) {
    assertEquals((e as Error).message, "No hosts given");
  }
});

Deno.test("ssh command: -T, the caller's options, no prompts, the host after --, the path quoted", () => {
  assertEquals(sshCommandArgs("lb1", { sshArgs: ["-F", "cfg"], remoteSocket: "/run/my app's.sock" }), [
    "-T",
    "-F",
    "cfg",
    "-o",
    "BatchMode=yes",
    "--",
    "lb1",
    `sockd bridge --socket '/run/my app'\\''s.sock'`,
  ]);
  assertEquals(
    sshCommandArgs("h", { remoteSockd: "/opt/sockd/bin/sockd" }).at(-1),
    "/opt/sockd/bin/sockd bridge",
  );
  assertEquals(shellQuote("/run/sockd.sock"), "/run/sockd.sock");
  assertEquals(shellQuote("$(reboot)"), "'$(reboot)'");
  try {
    sshCommandArgs("-oProxyCommand=sh");
    assert(false, "an option taken for a host");
  } catch (e) {
    assert(e instanceof RangeError);
  }
});

Deno.test("fan-out: at most N at once, results in the order given, nothing new after abort", async () => {
  let running = 0, most = 0;
  const hosts = Array.from({ length: 20 }, (_, i) => `h${i}`);
  const out = await fanOut(hosts, async (h, i) => {
    most = Math.max(most, ++running);
    await new Promise((r) => setTimeout(r, (i * 7) % 5));
    running--;
    return h;
  }, { concurrency: 3 });
  assertEquals(out, hosts);
  assertEquals(most, 3);

  const stop = new AbortController();
  const started: string[] = [];
  const partial = await fanOut(hosts, async (h) => {
    started.push(h);
    if (h === "h1") stop.abort();
    await Promise.resolve();
    return h;
  }, { concurrency: 2, signal: stop.signal });
  assertEquals(started, ["h0", "h1"]);
  assertEquals(partial.filter((x) => x !== undefined), ["h0", "h1"]);
  try {
    await fanOut(hosts, () => Promise.resolve(1), { concurrency: 0 });
    assert(false, "concurrency 0 accepted");
  } catch (e) {
    assert(e instanceof RangeError);
  }
});

Deno.test("host lines: whole lines only, prefixed and aligned; the partial rest at the end", () => {
  const a = new HostLines("a", 4);
  assertEquals(a.chunk("one\ntw"), "a    | one\n");
  assertEquals(a.chunk("o\nthr"), "a    | two\n");
  assertEquals(
    a.end("done"),
    "a    | done\na    | thr\n".replace("a    | done\na    | thr\n", "a    | thrdone\n"),
  );
  const b = new HostLines("host", 4);
  assertEquals(b.chunk({ n: 1 }), 'host | {"n":1}\n');
  assertEquals(b.end({ ok: true }), 'host | {\nhost |   "ok": true\nhost | }\n');
  // A line that never ends is cut at 64 KiB rather than held without bound.
  const c = new HostLines("c", 1);
  const out = c.chunk("x".repeat(70 * 1024));
  assertEquals(out.length, "c | ".length + 70 * 1024 + 1);
});
