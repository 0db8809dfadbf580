/**
 * systemd socket activation, for real: `systemd-socket-activate` opens two
 * named sockets and starts `sockd serve` on the first connection, as systemd
 * does with a .socket unit and its .service.
 */
import { connect } from "../../lib/client.ts";
import type { ServerStatus } from "../../lib/command.ts";
import { Status } from "../../lib/errors.ts";
import { assert, assertEquals, assertIncludes, assertStatus, caught } from "../assert.ts";
import { captureStderr, DENO, ROOT, SOCKD_ARGS, tempDir, waitFor } from "../_helpers.ts";

/** `systemd-socket-activate` listening on `sockets` (name → path), running `sockd serve ...serveArgs`. */
function activate(sockets: Record<string, string>, serveArgs: string[]) {
  const names = Object.keys(sockets);
  const child = new Deno.Command("systemd-socket-activate", {
    args: [
      ...Object.values(sockets).flatMap((p) => ["-l", p]),
      `--fdname=${names.join(":")}`,
      DENO,
      ...SOCKD_ARGS,
      "serve",
      ...serveArgs,
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const { text: stderr, drained } = captureStderr(child);
  let code: number | undefined;
  const status = child.status.then((s) => code = s.code);
  return {
    pid: child.pid,
    stderr,
    exited: () => code,
    /** Resolves once every socket is open (systemd-socket-activate says so). */
    ready: () =>
      waitFor(
        () => names.every((_, i) => stderr().includes(` as ${3 + i}.`)),
        10_000,
        "systemd-socket-activate to open its sockets",
      ),
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await status;
      await drained;
    },
  };
}

Deno.test("activation: the first connection starts sockd on systemd's sockets; levels hold; status says so", async () => {
  await using tmp = await tempDir();
  const admin = `${tmp.dir}/admin.sock`;
  const ro = `${tmp.dir}/ro.sock`;
  await using act = activate({ admin, ro }, [
    "--listen",
    "fd:admin,access=admin",
    "--listen",
    "fd:ro,access=read",
  ]);
  await act.ready();
  // Nothing is started until somebody connects.
  assert(!act.stderr().includes("Execing"), "sockd is not started before the first connection");

  const reader = await connect(ro, { timeoutMs: 15_000 });
  assertIncludes(act.stderr(), "Execing");
  const status = await reader.call("status").result as ServerStatus;
  // systemd-socket-activate execs the server in its own process: LISTEN_PID is that pid.
  assertEquals(status.pid, act.pid);
  assertEquals(
    status.listeners.map((l) => [l.path, l.access, l.activation, l.fdName, l.mode]),
    [
      ["fd:admin", "admin", "systemd", "admin", "set by the .socket unit"],
      ["fd:ro", "read", "systemd", "ro", "set by the .socket unit"],
    ],
  );
  // The read-only socket cannot do what the admin one can.
  const denied = await caught(reader.call("shutdown").result);
  assertStatus(denied, Status.FORBIDDEN);
  assertIncludes(denied.message, "this socket allows read");
  const operator = await connect(admin, { timeoutMs: 5000 });
  const conns = await operator.call("connections").result as { listener: string; access: string }[];
  assertEquals(conns.map((c) => [c.listener, c.access]), [["fd:ro", "read"], ["fd:admin", "admin"]]);
  assertIncludes(act.stderr(), "Listening on a socket from systemd name=ro fd=4 access=read");
  reader.close();
  operator.close();
});

Deno.test("activation: a socket systemd passed that no --listen fd:NAME configures stops the server with the reason", async () => {
  await using tmp = await tempDir();
  const admin = `${tmp.dir}/admin.sock`;
  const extra = `${tmp.dir}/extra.sock`;
  await using act = activate({ admin, extra }, ["--listen", "fd:admin,access=admin"]);
  await act.ready();
  // The first connection starts sockd, which refuses to run (and so closes the socket under it).
  const c = await Deno.connect({ transport: "unix", path: admin });
  await waitFor(() => act.exited() !== undefined, 15_000, "sockd to exit");
  c.close();
  assertEquals(act.exited(), 1);
  assertIncludes(
    act.stderr(),
    'systemd passed socket "extra" (descriptor 4) but no --listen fd:extra says what it may call',
  );
});

Deno.test("activation: plugin hosts do not inherit systemd's sockets", async () => {
  await using tmp = await tempDir();
  const plugins = `${tmp.dir}/cmds`;
  await Deno.mkdir(plugins);
  // A plugin granted nothing tries to take over the server's listening sockets by descriptor.
  await Deno.writeTextFile(
    `${plugins}/grab.ts`,
    `import net from "node:net";
export default { name: "grab", summary: "Try to adopt the server's sockets", access: "read", async run() {
  const got = [];
  for (const fd of [3, 4, 5, 6]) {
    const ok = await new Promise((res) => { const s = net.createServer(); s.once("error", () => res(false));
      s.listen({ fd }, () => { s.close(); res(true); }); });
    if (ok) got.push(fd);
  }
  return got;
} };`,
  );
  const admin = `${tmp.dir}/admin.sock`;
  const ro = `${tmp.dir}/ro.sock`;
  await using act = activate({ admin, ro }, [
    "--plugins",
    plugins,
    "--listen",
    "fd:admin,access=admin",
    "--listen",
    "fd:ro,access=read",
  ]);
  await act.ready();
  const c = await connect(ro, { timeoutMs: 15_000 });
  assertEquals(await c.call("grab").result, []);
  // The server still owns them: both sockets answer.
  const a = await connect(admin, { timeoutMs: 5000 });
  assertEquals(await a.call("ping").result, "pong");
  a.close();
  c.close();
});

/** The ini blocks of docs/OPERATIONS.md's socket activation section, by the file name above each. */
async function documentedUnits(): Promise<Map<string, string>> {
  const doc = await Deno.readTextFile(`${ROOT}docs/OPERATIONS.md`);
  const section = doc.slice(doc.indexOf("### Socket activation"), doc.indexOf("## Limits"));
  const units = new Map<string, string>();
  for (const m of section.matchAll(/`\/etc\/systemd\/system\/([^`]+)`:\n\n```ini\n([\s\S]*?)```/g)) {
    units.set(m[1]!, m[2]!);
  }
  return units;
}

/** `Key=value` lines of a unit (continuations joined). */
function unitValues(unit: string, key: string): string[] {
  return unit.replace(/\\\n\s*/g, "").split("\n").filter((l) => l.startsWith(`${key}=`)).map((l) =>
    l.slice(key.length + 1)
  );
}

Deno.test("activation: the .socket and .service units in docs/OPERATIONS.md work as written", async () => {
  const units = await documentedUnits();
  const service = units.get("myapp-sockd.service")!;
  assert(service, "the service unit is documented");
  const socketUnits = unitValues(service, "Sockets")[0]!.split(" ");
  assertEquals(socketUnits.length, 2);
  await using tmp = await tempDir();
  const plugins = `${tmp.dir}/sockd.d`;
  await Deno.mkdir(plugins);
  const local = (p: string) => p.replace("/run/myapp", tmp.dir).replace("/etc/myapp/sockd.d", plugins);
  // systemd-socket-activate names descriptors as the units' FileDescriptorName= do.
  const sockets: Record<string, string> = {};
  for (const name of socketUnits) {
    const unit = units.get(name);
    assert(unit, `${name} is documented`);
    assertEquals(unitValues(unit, "Service"), ["myapp-sockd.service"]);
    sockets[unitValues(unit, "FileDescriptorName")[0]!] = local(unitValues(unit, "ListenStream")[0]!);
  }
  const exec = unitValues(service, "ExecStart")[0]!.split(/\s+/);
  assertEquals(exec.slice(0, 2), ["/usr/local/bin/sockd", "serve"]);
  await using act = activate(sockets, exec.slice(2).map(local));
  await act.ready();
  const ro = await connect(sockets.ro!, { timeoutMs: 15_000 });
  const status = await ro.call("status").result as ServerStatus;
  assertEquals(status.listeners.map((l) => [l.path, l.access, l.activation, l.limits.maxConnections]), [
    ["fd:admin", "admin", "systemd", 1024],
    ["fd:ro", "read", "systemd", 64],
  ]);
  assertStatus(await caught(ro.call("shutdown").result), Status.FORBIDDEN);
  const admin = await connect(sockets.admin!, { timeoutMs: 5000 });
  assertEquals(await admin.call("reload").result !== undefined, true);
  ro.close();
  admin.close();
});
