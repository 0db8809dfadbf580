/**
 * `sockd call COMMAND [ARGS...]`: one call from a shell.
 *
 * @module
 */
import { connect } from "../client.ts";
import { SockdError, Status } from "../errors.ts";
import { Exit, exitCodeFor } from "./exit_codes.ts";
import { errorLine, jsonData, jsonEnd, renderChunk, renderResult } from "./render.ts";

/** Options of {@linkcode runCall}. */
export interface CallCliOptions {
  socket: string;
  json: boolean;
  timeoutMs?: number;
  /** Send stdin as the command's input (default: when stdin is not a terminal). */
  stdin?: boolean;
}

/** Streams for the CLI (stdout/stderr/stdin by default; tests pass their own). */
export interface CliIO {
  stdout: WritableStreamDefaultWriter<Uint8Array> | { write(b: Uint8Array): Promise<unknown> };
  stderr: (line: string) => void;
  stdin?: ReadableStream<Uint8Array>;
}

/** Runs one call and returns the exit code. */
export async function runCall(
  command: string,
  args: string[],
  options: CallCliOptions,
  io: CliIO,
  interrupt?: AbortSignal,
): Promise<number> {
  let client;
  try {
    client = await connect(options.socket, { timeoutMs: options.timeoutMs ?? 5000 });
  } catch (err) {
    return await fail(err, options, io);
  }
  const cancel = new AbortController();
  let interrupted = false;
  interrupt?.addEventListener("abort", () => {
    interrupted = true;
    cancel.abort();
  }, { once: true });
  const call = client.call(command, args, {
    signal: cancel.signal,
    timeoutMs: options.timeoutMs,
    input: options.stdin && io.stdin ? io.stdin : undefined,
  });
  // The server enforces the deadline; this guard covers a server that never answers.
  let timedOut = false;
  const guard = options.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    client.close();
  }, options.timeoutMs + 2000);
  try {
    for await (const chunk of call) {
      await io.stdout.write(options.json ? jsonData(chunk) : renderChunk(chunk));
    }
    const result = await call.result;
    await io.stdout.write(options.json ? jsonEnd(result) : renderResult(result));
    return Exit.OK;
  } catch (err) {
    if (interrupted) {
      io.stderr(errorLine("interrupted; the call was cancelled"));
      return Exit.INTERRUPTED;
    }
    if (timedOut) {
      return await fail(
        new SockdError(Status.TIMEOUT, `No answer within ${options.timeoutMs} ms`),
        options,
        io,
      );
    }
    return await fail(err, options, io);
  } finally {
    clearTimeout(guard);
    client.close();
  }
}

async function fail(err: unknown, options: CallCliOptions, io: CliIO): Promise<number> {
  const e = err instanceof SockdError
    ? err
    : new SockdError(Status.CONN_ERROR, String((err as Error)?.message ?? err));
  if (options.json) {
    // The error is still an event of the call; the exit code tells its kind.
    await io.stdout.write(jsonEnd(undefined, e));
  }
  io.stderr(errorLine(e.message));
  return exitCodeFor(e.status);
}
