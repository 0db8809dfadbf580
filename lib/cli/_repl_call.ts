/**
 * Running one command line in the interactive REPL: its output streamed as
 * it arrives, Ctrl-C sending a cancel (and giving up waiting for the
 * server's confirmation after a grace time), and a `persistent` stream
 * re-issued after the connection drops and comes back.
 *
 * @module
 */
import type { Client } from "../client.ts";
import type { CommandInfo } from "../command.ts";
import { SockdError, Status } from "../errors.ts";
import { renderChunk, renderForPeople } from "./render.ts";
import type { ServerCatalog } from "./_completion.ts";
import type { Link } from "./_link.ts";
import type { ReplScreen } from "./_repl_screen.ts";

/** After the server ends a call with 106 unasked, how long to watch for it closing the connection. */
const SHUTDOWN_WATCH_MS = 1000;
/** Time to wait for the server to confirm a cancel before returning to the prompt. */
const CANCEL_GRACE_MS = 2000;

/** The outcome of one call in the interactive REPL. */
type Outcome = "ok" | "failed" | "cancelled" | "lost";

/** What running a command needs from the REPL. */
export interface ReplCallContext {
  /** The connection, reconnecting when it drops. */
  link: Link;
  /** The server's commands (whether one is persistent). */
  catalog: ServerCatalog;
  /** Where output and errors go. */
  screen: ReplScreen;
}

/** Runs a command; if the connection drops under a persistent one, re-issues it after reconnecting. */
export async function runCommand(
  words: string[],
  interrupt: AbortSignal,
  ctx: ReplCallContext,
): Promise<void> {
  const { link, catalog, screen } = ctx;
  const [command, ...args] = words as [string, ...string[]];
  while (true) {
    let client: Client;
    try {
      client = await link.get(interrupt);
    } catch (err) {
      if (interrupt.aborted) screen.ensureLineStart();
      else screen.showError(err as SockdError);
      return;
    }
    // Whether it is persistent matters only if the connection drops; ask alongside the call.
    const info = catalog.info(command);
    const { outcome, error } = await callOnce(client, { command, args, interrupt, screen });
    if (outcome !== "lost") return;
    if (!(await info)?.persistent) {
      screen.showError(error!);
      return;
    }
    try {
      await link.get(interrupt);
    } catch (err) {
      if (interrupt.aborted) screen.ensureLineStart();
      else screen.showError(err as SockdError);
      return;
    }
    const again: CommandInfo | undefined = await catalog.info(command);
    if (!again?.persistent) {
      screen.notice(
        screen.st.yellow(`not resuming "${command}": the server no longer has it as a persistent command`),
      );
      return;
    }
    screen.notice(screen.st.yellow(`resuming ${words.join(" ")} (persistent)`));
  }
}

async function callOnce(
  client: Client,
  options: { command: string; args: string[]; interrupt: AbortSignal; screen: ReplScreen },
): Promise<{ outcome: Outcome; error?: SockdError }> {
  const { command, args, interrupt, screen } = options;
  const call = client.call(command, args, { signal: interrupt });
  const it = call[Symbol.asyncIterator]();
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  const grace = new Promise<"grace">((resolve) => {
    const start = () => graceTimer = setTimeout(() => resolve("grace"), CANCEL_GRACE_MS);
    if (interrupt.aborted) start();
    else interrupt.addEventListener("abort", start, { once: true });
  });
  try {
    while (true) {
      const step = await Promise.race([it.next(), grace]);
      if (step === "grace") {
        // Keep reading so its chunks do not stall the connection; show none of them.
        (async () => {
          while (!(await it.next()).done) { /* discard */ }
        })().catch(() => {});
        screen.ensureLineStart();
        screen.line(
          screen.st.yellow(`(cancel sent; the server did not confirm it within ${CANCEL_GRACE_MS} ms)`),
        );
        return { outcome: "cancelled" };
      }
      if (step.done) break;
      screen.out(renderChunk(step.value));
    }
    screen.out(await renderForPeople(await call.result));
    return { outcome: "ok" };
  } catch (err) {
    const e = err instanceof SockdError ? err : new SockdError(Status.CONN_ERROR, String(err));
    if (interrupt.aborted) {
      screen.ensureLineStart();
      screen.line(screen.st.yellow(`(cancelled${e.remote ? ` ${e.status}` : ""}) ${e.message}`));
      return { outcome: "cancelled", error: e };
    }
    if (!e.remote && e.status === Status.CONN_ERROR) return { outcome: "lost", error: e };
    // A server shutting down cancels calls (106), then closes: that is a lost connection too.
    if (e.remote && e.status === Status.CANCELLED && await closesWithin(client, SHUTDOWN_WATCH_MS)) {
      return { outcome: "lost", error: e };
    }
    screen.showError(e);
    return { outcome: "failed", error: e };
  } finally {
    clearTimeout(graceTimer);
  }
}

/** Whether `client`'s connection closes within `ms`. */
async function closesWithin(client: Client, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const result = await Promise.race([
    client.closed.then(() => true),
    new Promise<boolean>((r) => timer = setTimeout(() => r(false), ms)),
  ]);
  clearTimeout(timer);
  return result;
}
