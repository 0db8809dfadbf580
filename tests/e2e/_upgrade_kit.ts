/** What the upgrade tests share: one call on a fresh connection, and stopping whichever process serves a path. */
import { connect } from "../../lib/client.ts";
import type { ServerStatus } from "../../lib/command.ts";
import { isLive } from "../../lib/listener.ts";
import { waitFor } from "../_helpers.ts";

/** Calls `command` on a connection of its own (5 s to connect, 30 s for the answer) and closes it. */
export async function callOnce(path: string, command: string, args: string[] = []): Promise<unknown> {
  const c = await connect(path, { timeoutMs: 5000 });
  try {
    return await c.call(command, args, { timeoutMs: 30_000 }).result;
  } finally {
    c.close();
  }
}

/** The pid of the process serving `path` now (from `status`). */
export async function pidAt(path: string): Promise<number> {
  return (await callOnce(path, "status") as ServerStatus).pid;
}

/** Stops whatever server is on `path` now (a successor is no child of the test). */
export async function stopAt(path: string): Promise<void> {
  if (!await isLive(path).catch(() => false)) return;
  await callOnce(path, "shutdown").catch(() => {});
  await waitFor(async () => !await isLive(path).catch(() => false), 10_000, "the last successor to stop");
}
