/**
 * Attacks on what a plugin may touch at run time (fixtures:
 * tests/fixtures/attacks/files/): files, /proc, the environment, programs,
 * FFI, the network, the server's own socket, its own grants file, and asking
 * for a permission. Each answers 105 with Deno's denial plus the grant that
 * would allow it, naming the plugin file and its sockd.json; the secret is
 * in no answer; `ping` on another connection answers throughout.
 */
import { Status } from "../../../lib/errors.ts";
import { assertEquals, assertIncludes, assertStatus } from "../../assert.ts";
import { assertMatch, assertNoSecret, type Attack, attack, step } from "./_kit.ts";

/** Asserts `command` is denied `kind` access with a message naming `file`, its sockd.json, and `parts`. */
async function assertDenied(
  a: Attack,
  command: string,
  kind: string,
  file: string,
  parts: string[] = [],
  args: string[] = [],
) {
  const err = await a.fail(command, args);
  assertStatus(err, Status.HANDLER_ERROR);
  assertNoSecret(a, err.message);
  assertMatch(err.message, new RegExp(`requires ${kind} access`, "i"));
  assertIncludes(err.message, file);
  // FFI cannot be granted, so its denial need not point at the grants file.
  if (kind !== "ffi") assertIncludes(err.message, `${a.dir}/sockd.json`);
  for (const part of parts) assertIncludes(err.message, part);
}

Deno.test("attacks/files: files, /proc, env, programs, FFI and the network are denied without a grant", async (t) => {
  await using a = await attack("files");

  await step(t, a, "control: a granted read works inside the host", async () => {
    assertEquals(await a.call("read-granted"), await Deno.readTextFile("/etc/hostname"));
  });
  await step(t, a, "Deno.readTextFile of a file not granted: 105 naming the path and the grant", async () => {
    await assertDenied(a, "read-etc", "read", "read_etc.ts", [
      '"/etc/hostname"',
      '"read": ["/etc/hostname"]',
    ]);
    await assertDenied(a, "read-secret", "read", "read_secret.ts", ["secret.txt"]);
  });
  await step(t, a, "/proc/self/environ and the server's /proc/<ppid>/* are denied", async () => {
    await assertDenied(a, "proc-environ", "read", "proc_environ.ts", ["/proc/self/environ"]);
    await assertDenied(a, "proc-parent", "read", "proc_parent.ts", ["/proc/"]);
  });
  await step(t, a, "node:fs reads are denied", async () => {
    await assertDenied(a, "node-fs", "read", "node_fs.ts");
  });
  await step(t, a, "node:child_process and Deno.Command are denied", async () => {
    // node:child_process asks for the environment before it runs anything: either denial stops it.
    await assertDenied(a, "node-child", "(run|env)", "node_child.ts");
    await assertDenied(a, "deno-command", "run", "deno_command.ts");
  });
  await step(t, a, "Deno.dlopen is denied", async () => {
    await assertDenied(a, "ffi", "ffi", "ffi.ts");
  });
  await step(t, a, "Deno.permissions.request grants nothing (no prompt, no hang)", async () => {
    await assertDenied(a, "perm-request", "read", "perm_request.ts");
  });
  await step(t, a, "Deno.env and process.env are denied", async () => {
    await assertDenied(a, "env-get", "env", "env_get.ts");
    await assertDenied(a, "env-node", "env", "env_node.ts", ['"HOME"']);
  });
  await step(t, a, "Deno.hostname without a sys grant is denied", async () => {
    await assertDenied(a, "sys-info", "sys", "sys_info.ts");
  });
  await step(t, a, "a plugin cannot rewrite its own grants file", async () => {
    const before = await Deno.readTextFile(`${a.dir}/sockd.json`);
    await assertDenied(a, "write-config", "write", "write_config.ts", ["sockd.json"]);
    assertEquals(await Deno.readTextFile(`${a.dir}/sockd.json`), before);
  });
  await step(t, a, "a plugin cannot connect to the server's own socket and call shutdown", async () => {
    const err = await a.fail("unix-connect", [a.server.path]);
    assertStatus(err, Status.HANDLER_ERROR);
    assertMatch(err.message, /requires (net|read|write) access/i);
    assertIncludes(err.message, "unix_connect.ts");
    assertEquals(await a.call("ping"), "pong");
  });
  await step(t, a, "fetch without a net grant is denied and reaches nothing", async () => {
    await assertDenied(a, "tcp-connect", "net", "tcp_connect.ts");
    assertEquals(a.canary.hits, []);
  });
  await step(t, a, "a child Worker cannot ask for more than the plugin holds", async () => {
    const err = await a.fail("escalate-worker");
    assertStatus(err, Status.HANDLER_ERROR);
    assertNoSecret(a, err.message);
    // Plugins get no Worker at all (threads that outlive calls), so there is nothing to escalate.
    assertIncludes(err.message, "Worker is not defined");
  });
});
