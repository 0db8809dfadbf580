/**
 * The dispatcher on its own: the fast path for commands that answer at
 * once, and what it keeps of the slow path (deadlines on a shared timer,
 * cancel, the lazy parts of the context).
 */
import type { Command, Context } from "../lib/command.ts";
import { commandInfo } from "../lib/command_info.ts";
import type { Event } from "../lib/dialects/dialect.ts";
import { type CallEnv, type CallRecord, Dispatcher, isRunning, type RunningCall } from "../lib/dispatcher.ts";
import { SockdError, Status } from "../lib/errors.ts";
import { resolveLimits } from "../lib/limits.ts";
import type { Logger } from "../lib/log.ts";
import { Registry } from "../lib/registry.ts";
import { Deadlines } from "../lib/_deadlines.ts";
import { assert, assertEquals } from "./assert.ts";

function setUp(commands: Command[]) {
  const registry = new Registry();
  registry.replace(
    new Map(commands.map((c) => [c.name, { command: c, info: commandInfo(c, "library"), state: new Map() }])),
  );
  const records: CallRecord[] = [];
  const lines: [string, Record<string, unknown> | undefined][] = [];
  const logger: Logger = {
    debug: (m, f) => lines.push([m, f]),
    info: (m, f) => lines.push([m, f]),
    warn: (m, f) => lines.push([m, f]),
    error: (m, f) => lines.push([m, f]),
  };
  const dispatcher = new Dispatcher(registry, {
    limits: resolveLimits(),
    logger,
    server: { name: "sockd", version: "test", commands: () => registry.list() },
    onCallEnd: (r) => records.push(r),
  });
  const deadlines = new Deadlines();
  const env: CallEnv = { caller: { connection: 7, dialect: "test", access: "admin" }, deadlines };
  return { dispatcher, records, lines, env, deadlines };
}

/** Pulls a running call to its end. */
async function drain(call: RunningCall): Promise<Event[]> {
  const events: Event[] = [];
  while (true) {
    const e = await call.next();
    events.push(e);
    if (e.type === "end") return events;
  }
}

Deno.test("dispatcher: a plain return value is answered at once, with one call record", () => {
  let seen: Context | undefined;
  const { dispatcher, records, env, deadlines } = setUp([
    {
      name: "hello",
      summary: "x",
      args: [{ name: "words", variadic: true }],
      flags: { loud: { type: "boolean", default: false } },
      run: (ctx) => {
        seen = ctx;
        return `hello ${ctx.args.join(" ")}`;
      },
    },
  ]);
  const started = dispatcher.start({ id: 1, command: "hello", args: ["a", "b"] }, env);
  assert(!isRunning(started));
  assertEquals(started, { type: "end", id: 1, status: 0, result: "hello a b" });
  assertEquals(records.map((r) => [r.command, r.status]), [["hello", 0]]);
  assertEquals(seen!.flags, { loud: false });
  // The call is over: a signal asked for now is already aborted, as "Call ended".
  assert(seen!.signal.aborted);
  assertEquals((seen!.signal.reason as SockdError).status, Status.CANCELLED);
  assertEquals(deadlines.size, 0);
  deadlines.close();
});

Deno.test("dispatcher: errors, unknown commands and bad arguments end at once with their codes", () => {
  const { dispatcher, records, env, deadlines } = setUp([
    {
      name: "boom",
      summary: "x",
      run: () => {
        throw new SockdError(Status.BUSY, "Not now");
      },
    },
    { name: "one", summary: "x", args: [{ name: "x" }], run: () => 1 },
  ]);
  const ends = [
    dispatcher.start({ id: 1, command: "boom", args: [] }, env),
    dispatcher.start({ id: 2, command: "nope", args: [] }, env),
    dispatcher.start({ id: 3, command: "one", args: [] }, env),
  ] as Event[];
  assertEquals(ends.map((e) => e.type === "end" && e.status), [
    Status.BUSY,
    Status.NOT_FOUND,
    Status.BAD_ARGS,
  ]);
  assertEquals(records.map((r) => r.status), [Status.BUSY, Status.NOT_FOUND, Status.BAD_ARGS]);
  deadlines.close();
});

Deno.test("dispatcher: input and logger are made on first use and behave as before", async () => {
  let text = "";
  const { dispatcher, lines, env, deadlines } = setUp([
    {
      name: "read",
      summary: "x",
      async run(ctx) {
        text = await new Response(ctx.input).text();
        ctx.log.info("read it", { bytes: text.length });
        return text.length;
      },
    },
  ]);
  const started = dispatcher.start({ id: 1, command: "read", args: [] }, env);
  assert(isRunning(started));
  assertEquals(await drain(started), [{ type: "end", id: 1, status: 0, result: 0 }]);
  assertEquals(lines, [["read it", { command: "read", conn: 7, bytes: 0 }]]);
  deadlines.close();
});

Deno.test("dispatcher: 50 concurrent deadlines on one shared timer each fire and abort their signal", async () => {
  const reasons: string[] = [];
  const { dispatcher, env, deadlines } = setUp([
    {
      name: "hang",
      summary: "Wait until aborted",
      run: (ctx) =>
        new Promise((_, reject) =>
          ctx.signal.addEventListener("abort", () => {
            reasons.push((ctx.signal.reason as Error).message);
            reject(ctx.signal.reason);
          })
        ),
    },
    { name: "quick", summary: "x", run: () => new Promise((r) => setTimeout(() => r("done"), 5)) },
  ]);
  const t0 = performance.now();
  const calls = Array.from({ length: 50 }, (_, i) => {
    const started = dispatcher.start({ id: i, command: "hang", args: [], timeoutMs: 20 + (i % 5) * 10 }, env);
    assert(isRunning(started));
    return drain(started);
  });
  const quick = dispatcher.start({ id: "q", command: "quick", args: [], timeoutMs: 1000 }, env);
  assert(isRunning(quick));
  assertEquals((await drain(quick)).at(-1), { type: "end", id: "q", status: 0, result: "done" });
  const ends = (await Promise.all(calls)).map((events) => events.at(-1) as Extract<Event, { type: "end" }>);
  assert(performance.now() - t0 >= 60, "the longest deadline is 60 ms");
  assertEquals(ends.map((e) => e.status), Array(50).fill(Status.TIMEOUT));
  assertEquals(ends.map((e) => e.error), ends.map((_, i) => `Deadline of ${20 + (i % 5) * 10} ms passed`));
  assertEquals(reasons.length, 50);
  // Every deadline fired or was removed: nothing is left on the timer.
  assertEquals(deadlines.size, 0);
  deadlines.close();
});

Deno.test("dispatcher: aborting answers a waiting pull at once and lets the stream clean up", async () => {
  const events: string[] = [];
  const gate = Promise.withResolvers<void>();
  const { dispatcher, env, deadlines } = setUp([
    {
      name: "stream",
      summary: "x",
      async *run() {
        try {
          yield 1;
          await gate.promise;
          yield 2;
        } finally {
          events.push("finally");
        }
      },
    },
    { name: "reject", summary: "x", run: () => Promise.reject(new Error("Disk is full")) },
  ]);
  const started = dispatcher.start({ id: 1, command: "stream", args: [] }, env);
  assert(isRunning(started));
  assertEquals(await started.next(), { type: "data", id: 1, chunk: 1 });
  const pending = started.next();
  started.abort(new SockdError(Status.CANCELLED, "Cancelled by the client"));
  assertEquals(await pending, {
    type: "end",
    id: 1,
    status: Status.CANCELLED,
    error: "Cancelled by the client",
  });
  // A rejection that comes before anyone pulls is handled, and answered as 105.
  const rejected = dispatcher.start({ id: 2, command: "reject", args: [] }, env);
  assert(isRunning(rejected));
  await new Promise((r) => setTimeout(r, 10));
  assertEquals(await rejected.next(), {
    type: "end",
    id: 2,
    status: Status.HANDLER_ERROR,
    error: "Disk is full",
  });
  deadlines.close();
  // The stream was not waited for; once its wait is over, it is stopped and runs its finally block.
  assertEquals(events, []);
  gate.resolve();
  await new Promise((r) => setTimeout(r, 10));
  assertEquals(events, ["finally"]);
});
