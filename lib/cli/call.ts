/**
 * `sockd call COMMAND [ARGS...]`: one call from a shell.
 *
 * Output appears as the command streams it; errors are one line on stderr
 * and an exit code from {@linkcode Exit}. Ctrl-C (SIGINT) cancels the remote
 * call and waits (briefly) for the server to confirm before exiting 130.
 *
 * @module
 */
import { type AbortWatch, after, raceAbort } from "../_abortable.ts";
import type { CallOptions } from "../client.ts";
import type { Call } from "../client_call.ts";
import { SockdError, Status } from "../errors.ts";
import { Exit, exitCodeFor } from "./exit_codes.ts";
import { errorLine, jsonData, jsonEnd, renderChunk, renderForPeople, renderResult } from "./render.ts";

/**
 * What a call needs of a connection: lib/client.ts's `Client`, or the
 * one-shot client of a plain `sockd call` (_oneshot_client.ts).
 */
export interface CallClient {
  call(command: string, args?: readonly string[], options?: CallOptions): Call;
  close(): void;
}

/** Opens a {@linkcode CallClient} on the socket at `path`; rejects with a SockdError. */
export type Connector = (
  path: string,
  options: { timeoutMs: number; trustOwner?: number },
) => Promise<CallClient>;

/** Options of {@linkcode runCall}. */
export interface CallCliOptions {
  socket: string;
  /** How to connect: lib/client.ts's `connect`, or the one-shot client's. */
  connect: Connector;
  json: boolean;
  timeoutMs?: number;
  /**
   * Offer stdin as the command's input (default: when stdin is not a
   * terminal); it is sent only to a command that declares `input`.
   */
  stdin?: boolean;
  /** One more uid trusted to own the socket, besides this user and root. */
  trustOwner?: number;
  /** More to say about an error the call ended with, added to its line. */
  hint?: (error: SockdError) => string | undefined;
  /** Show a structured result as tables and `key: value` lines (stdout is a terminal). */
  human?: boolean;
}

/** Streams for the CLI (stdout/stderr/stdin by default; tests pass their own). */
export interface CliIO {
  stdout: {
    /** Writes all of `b`; `b` is reused once the promise resolves. */
    write(b: Uint8Array): Promise<unknown>;
    /** Writes all of `b` before returning, blocking the process meanwhile (where that is safe). */
    writeSync?(b: Uint8Array): void;
  };
  stderr: (line: string) => void;
  stdin?: ReadableStream<Uint8Array>;
}

/** How long a cancelled call may take to confirm (106) before the client stops waiting, in ms. */
export const CANCEL_GRACE_MS = 2000;
/** The buffer a call's output is read into and written from (the size of the chunks commands stream). */
const OUTPUT_BYTES = 64 * 1024;
/** How long past its deadline a call may stay unanswered before the client gives up, in ms. */
const DEADLINE_SLACK_MS = 2000;

/** Connects, runs one call, and returns the exit code. */
export async function runCall(
  command: string,
  args: string[],
  options: CallCliOptions,
  io: CliIO,
  interrupt?: AbortWatch,
): Promise<number> {
  let client: CallClient;
  try {
    client = await untilAborted(
      options.connect(options.socket, {
        timeoutMs: options.timeoutMs ?? 5000,
        trustOwner: options.trustOwner,
      }),
      interrupt,
    );
  } catch (err) {
    if (interrupt?.aborted) {
      io.stderr(errorLine("Interrupted before the call started"));
      return Exit.INTERRUPTED;
    }
    return await fail(err, options.json, io);
  }
  try {
    // Offered, not asked about first: the call goes out at once with its input open, right after a
    // `help` call that says whether the command reads it. stdin follows if it does; else the input
    // ends empty and stdin is never touched (the server treats such a call as one without input).
    // One round trip before the answer instead of two: the same wall time on a quiet machine, 1.2–1.7 ms
    // less for a cold `sockd call ping` with both cores busy (p25 of 40 interleaved runs).
    const reading = { stdin: false };
    const input = options.stdin
      ? offeredInput(takesInput(client, command), () => io.stdin, reading)
      : undefined;
    return await callOn(
      client,
      command,
      args,
      {
        json: options.json,
        timeoutMs: options.timeoutMs,
        input,
        hint: options.hint,
        human: options.human,
        readingInput: () => reading.stdin,
      },
      io,
      interrupt,
    );
  } finally {
    client.close();
  }
}

/**
 * Whether `command` reads its input, as `help COMMAND --json` says. A server
 * that does not say (older than `input`) gets stdin, as it always did; stdin
 * left unsent is never read, so `while read` loops keep their lines.
 */
export async function takesInput(client: CallClient, command: string): Promise<boolean> {
  try {
    const info = await client.call("help", [command, "--json"]).result as { input?: unknown } | null;
    return info?.input !== false;
  } catch (err) {
    // The connection failed: so does the call, and stdin stays unread.
    if (!(err instanceof SockdError) || !err.remote) return false;
    // A server without `help` (builtins: false) cannot say: send stdin, as before.
    if (err.message.startsWith('Unknown command "help"')) return true;
    // The command is unknown or not allowed: the call itself will say so.
    return err.status !== Status.NOT_FOUND && err.status !== Status.FORBIDDEN;
  }
}

/**
 * The command's input: `stdin()` once `wanted` says the command reads it, else none (it ends empty).
 * `reading.stdin` is true while stdin is being read.
 */
async function* offeredInput(
  wanted: Promise<boolean>,
  stdin: () => ReadableStream<Uint8Array> | undefined,
  reading: { stdin: boolean },
): AsyncGenerator<Uint8Array> {
  if (!await wanted) return;
  const stream = stdin();
  if (!stream) return;
  reading.stdin = true;
  try {
    yield* stream;
  } finally {
    reading.stdin = false;
  }
}

/** Options of {@linkcode callOn}. */
export interface CallOnOptions {
  /** Print one JSON object per event instead of the human form. */
  json: boolean;
  /** The call's deadline, in ms. */
  timeoutMs?: number;
  /** The command's input stream. */
  input?: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;
  /** More to say about an error the call ended with. */
  hint?: (error: SockdError) => string | undefined;
  /** Show a structured result for people. */
  human?: boolean;
  /** Whether the input is still being read from stdin: then stdout is never written synchronously. */
  readingInput?: () => boolean;
}

/**
 * Runs one call on an open connection, writing its output to `io` as it
 * arrives; returns the exit code. Aborting `interrupt` cancels the remote
 * call (exit 130). A closed stdout (`| head`) cancels it too (exit 141,
 * nothing printed). The connection is closed only when the server does not
 * answer in time.
 */
export async function callOn(
  client: CallClient,
  command: string,
  args: string[],
  options: CallOnOptions,
  io: CliIO,
  interrupt?: AbortWatch,
): Promise<number> {
  if (interrupt?.aborted) {
    io.stderr(errorLine("Interrupted before the call started"));
    return Exit.INTERRUPTED;
  }
  // Cancelled through call.cancel(), not an AbortController's signal: see AbortFlag.
  const call = client.call(command, args, { timeoutMs: options.timeoutMs, input: options.input });
  let interrupted = false;
  let confirmed = true;
  let stopGrace: (() => void) | undefined;
  const onInterrupt = () => {
    interrupted = true;
    call.cancel();
    // Wait for the server's 106, but not forever.
    stopGrace = after(CANCEL_GRACE_MS, () => {
      confirmed = false;
      client.close();
    });
  };
  interrupt?.addEventListener("abort", onInterrupt, { once: true });
  // The server enforces the deadline; this guard covers a server that never answers.
  let timedOut = false;
  const stopGuard = options.timeoutMs === undefined
    ? undefined
    : after(options.timeoutMs + DEADLINE_SLACK_MS, () => {
      timedOut = true;
      client.close();
    });
  let brokenPipe = false;
  const write = async (bytes: Uint8Array) => {
    if (bytes.length === 0 || brokenPipe) return;
    try {
      // Synchronously where the CLI allows it (see call_cli.ts), but not while stdin is being
      // read: a blocked write would stop the input at once, and a parent that writes all of our
      // stdin before it reads our stdout would wait on us. Written async, the output waits in the
      // call's queue and the socket buffers meanwhile (as before; 4 MiB in the test).
      if (io.stdout.writeSync && !options.readingInput?.()) io.stdout.writeSync(bytes);
      else await io.stdout.write(bytes);
    } catch (err) {
      if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
      brokenPipe = true;
      call.cancel();
    }
  };
  try {
    if (options.json) {
      for await (const chunk of call) {
        await write(jsonData(chunk));
        if (brokenPipe) break;
      }
    } else {
      // Bytes and text are read into one buffer and written from it: streaming 1 GiB of 64 KiB
      // chunks, no allocation or copy per chunk on this side (see docs/PERFORMANCE.md).
      const buf = new Uint8Array(OUTPUT_BYTES);
      for (let got; (got = await call._readOrTake(buf)) !== null;) {
        await write(typeof got === "number" ? buf.subarray(0, got) : renderChunk(got.value));
        if (brokenPipe) break;
      }
    }
    if (brokenPipe) {
      // Nobody reads our output: the call was cancelled; let the server confirm, briefly.
      let stop: (() => void) | undefined;
      await Promise.race([
        call.result.catch(() => {}),
        new Promise<void>((r) => stop = after(CANCEL_GRACE_MS, r)),
      ]);
      stop?.();
      return Exit.BROKEN_PIPE;
    }
    const result = await call.result;
    await write(
      options.json ? jsonEnd(result) : options.human ? await renderForPeople(result) : renderResult(result),
    );
    return brokenPipe ? Exit.BROKEN_PIPE : Exit.OK;
  } catch (err) {
    if (interrupted) {
      io.stderr(errorLine(
        confirmed
          ? "Interrupted; the call was cancelled"
          : `Interrupted; the server did not confirm the cancel within ${CANCEL_GRACE_MS} ms`,
      ));
      return Exit.INTERRUPTED;
    }
    if (brokenPipe) return Exit.BROKEN_PIPE;
    if (timedOut) {
      return await fail(
        new SockdError(Status.TIMEOUT, `No answer within ${options.timeoutMs} ms`),
        options.json,
        io,
      );
    }
    return await fail(err, options.json, io, options.hint);
  } finally {
    stopGuard?.();
    stopGrace?.();
    interrupt?.removeEventListener("abort", onInterrupt);
  }
}

async function fail(
  err: unknown,
  json: boolean,
  io: CliIO,
  hint?: (error: SockdError) => string | undefined,
): Promise<number> {
  const e = err instanceof SockdError
    ? err
    : new SockdError(Status.CONN_ERROR, String((err as Error)?.message ?? err));
  if (json) {
    // The error is still an event of the call; the exit code tells its kind.
    await Promise.resolve(io.stdout.write(jsonEnd(undefined, e))).catch(() => {});
  }
  const more = hint?.(e);
  io.stderr(errorLine(more ? `${e.message}; ${more}` : e.message));
  return exitCodeFor(e.status);
}

/** `p`, or a rejection as soon as `signal` aborts; a connection that completes after that is closed, not leaked. */
function untilAborted<T>(p: Promise<T>, signal: AbortWatch | undefined): Promise<T> {
  if (signal) p.then((v) => signal.aborted && (v as { close?: () => void })?.close?.(), () => {});
  return raceAbort(p, signal, () => new SockdError(Status.CANCELLED, "Interrupted"));
}
