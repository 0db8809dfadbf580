/**
 * Test-only commands for the dialect suites, with hooks a test uses to steer
 * them (release a gate) and to see what the server did (why a call was
 * cancelled).
 */
import type { Command } from "../../lib/command.ts";
import { SockdError, Status } from "../../lib/errors.ts";

/** Commands plus the hooks that steer them; make one per server. */
export interface TestKit {
  commands: Command[];
  /** Lets `gate KEY` finish. */
  release(key: string): void;
  /** Resolves with the status and message `ticker KEY` was aborted with. */
  aborted(key: string): Promise<{ status: number; message: string }>;
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}

function keyed<T>() {
  const map = new Map<string, ReturnType<typeof deferred<T>>>();
  return (key: string) => {
    let d = map.get(key);
    if (!d) map.set(key, d = deferred<T>());
    return d;
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Builds the test commands. */
export function testKit(): TestKit {
  const gates = keyed<void>();
  const aborts = keyed<{ status: number; message: string }>();
  const commands: Command[] = [
    {
      name: "add",
      summary: "Add two numbers",
      args: [{ name: "a" }, { name: "b" }],
      flags: { times: { type: "number", default: 1 } },
      run: (ctx) => (Number(ctx.args[0]) + Number(ctx.args[1])) * Number(ctx.flags.times),
    },
    {
      name: "args",
      summary: "Answer the arguments as received",
      args: [{ name: "words", variadic: true }],
      run: (ctx) => ctx.args,
    },
    {
      name: "boom",
      summary: "Fail",
      run: () => {
        throw new Error("Boom: the handler failed");
      },
    },
    {
      name: "count",
      summary: "Stream 1..N, one line each",
      args: [{ name: "n" }],
      async *run(ctx) {
        for (let i = 1; i <= Number(ctx.args[0]); i++) yield `${i}\n`;
      },
    },
    {
      name: "mixed",
      summary: "Stream text, a structured value and bytes; return a structured result",
      async *run() {
        yield "text\n";
        yield { k: "v", n: [1, 2] };
        yield new Uint8Array([0x00, 0xff, 0x0a]);
        return { done: true };
      },
    },
    {
      name: "gate",
      summary: "Say started, then wait for the test to release KEY",
      args: [{ name: "key" }],
      async *run(ctx) {
        yield "started\n";
        await Promise.race([
          gates(ctx.args[0]!).promise,
          new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))),
        ]);
        return "released";
      },
    },
    {
      name: "ticker",
      summary: "Stream tick lines until cancelled; report why to the test",
      args: [{ name: "key" }],
      async *run(ctx) {
        ctx.signal.addEventListener("abort", () => {
          const r = ctx.signal.reason;
          aborts(ctx.args[0]!).resolve(
            r instanceof SockdError
              ? { status: r.status, message: r.message }
              : { status: -1, message: String(r) },
          );
        }, { once: true });
        while (true) {
          yield "tick\n";
          await sleep(5, ctx.signal);
        }
      },
    },
    {
      name: "nap",
      summary: "Sleep MS milliseconds, then answer rested",
      args: [{ name: "ms" }],
      run: async (ctx) => {
        await sleep(Number(ctx.args[0]), ctx.signal);
        return "rested";
      },
    },
    {
      name: "slow",
      summary: "Wait past its own 50 ms deadline",
      timeout: 50,
      run: (ctx) => sleep(10_000, ctx.signal),
    },
    {
      name: "wc",
      summary: "Count the bytes of the input",
      run: async (ctx) => {
        let n = 0;
        for await (const chunk of ctx.input) n += chunk.length;
        return n;
      },
    },
    {
      name: "fail-with",
      summary: "Fail with a given sockd status",
      args: [{ name: "status" }],
      run: (ctx) => {
        throw new SockdError(Number(ctx.args[0]), "Failed as asked");
      },
    },
  ];
  return {
    commands,
    release: (key) => gates(key).resolve(),
    aborted: (key) => aborts(key).promise,
  };
}

/** Status codes, re-exported for scenario tables. */
export { Status };
