/**
 * Micro-benchmarks of the call path without sockets: the dispatcher on a
 * command that answers at once (the fast path), on one that returns a
 * promise (a deadline on the shared timer), and the msgpack dialect's
 * decode → dispatch → encode of one `call ping` frame, as the session does
 * it. `deno task bench:micro`.
 *
 * @module
 */
import type { Command } from "../../../lib/command.ts";
import { commandInfo } from "../../../lib/command_info.ts";
import { msgpackDialect } from "../../../lib/dialects/msgpack.ts";
import { encodeFrame, MSGPACK_PREFACE } from "../../../lib/dialects/msgpack.ts";
import { type CallEnv, Dispatcher, isRunning } from "../../../lib/dispatcher.ts";
import { DEFAULT_LIMITS } from "../../../lib/limits.ts";
import { silentLogger } from "../../../lib/log.ts";
import { Registry } from "../../../lib/registry.ts";
import { Deadlines } from "../../../lib/_deadlines.ts";

const commands: Command[] = [
  { name: "ping", summary: "x", access: "read", run: () => "pong" },
  { name: "later", summary: "x", run: () => Promise.resolve("later") },
];
const registry = new Registry();
registry.replace(
  new Map(commands.map((c) => [c.name, { command: c, info: commandInfo(c, "builtin"), state: new Map() }])),
);
const dispatcher = new Dispatcher(registry, {
  limits: DEFAULT_LIMITS,
  logger: silentLogger,
  server: { name: "sockd", version: "bench", commands: () => registry.list() },
  onCallEnd: () => {},
});
const deadlines = new Deadlines();
const env: CallEnv = { caller: { connection: 1, dialect: "msgpack", access: "admin" }, deadlines };
const dialect = msgpackDialect.create({ limits: DEFAULT_LIMITS, hello: { name: "sockd", version: "bench" } });
const decoder = dialect.decoder();
decoder.push(MSGPACK_PREFACE);
const frame = encodeFrame({ type: "call", id: 1, command: "ping", args: [] });

Deno.bench("dispatch ping (plain value: answered at once)", { group: "dispatch", baseline: true }, () => {
  dispatcher.start({ id: 1, command: "ping", args: [] }, env);
});
Deno.bench(
  "dispatch + await a promise result (deadline on the shared timer)",
  { group: "dispatch" },
  async () => {
    const started = dispatcher.start({ id: 1, command: "later", args: [] }, env);
    if (isRunning(started)) await started.next();
  },
);
Deno.bench("decode a call frame, dispatch, encode the end (one session step)", { group: "dispatch" }, () => {
  decoder.push(frame);
  const req = decoder.next()!;
  if (req.type !== "call") throw new Error(req.type);
  const end = dispatcher.start(req, env);
  if (isRunning(end)) throw new Error("ping should answer at once");
  dialect.encode(end);
});
