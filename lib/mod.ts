/**
 * sockd: a control socket for running processes.
 *
 * Embed a server in any Deno program with {@linkcode serve}, call it with
 * {@linkcode connect}, and write commands as {@linkcode Command} objects —
 * the same format plugin files default-export.
 *
 * @example Serve a command and call it
 * ```ts
 * import { connect, serve, type Command } from "sockd";
 *
 * const uptime: Command = {
 *   name: "uptime",
 *   summary: "Seconds since start",
 *   access: "read",
 *   run: () => Math.round(performance.now() / 1000),
 * };
 * const path = `${await Deno.makeTempDir()}/app.sock`;
 * const server = await serve({ path, commands: [uptime] });
 *
 * const client = await connect(path);
 * const seconds = await client.call("uptime").result;
 * console.assert(typeof seconds === "number");
 * client.close();
 * await server.close();
 * ```
 *
 * @module
 */
export { serve } from "./server.ts";
export type { ListenerView, ServeOptions, Server } from "./server.ts";
export type { SandboxOptions } from "./runner/host_options.ts";
export { Call, Client, connect, connectChannel } from "./client.ts";
export { type ByteChannel, streamChannel, type StreamPair } from "./byte_channel.ts";
export type { CallOptions, ChannelConnectOptions, ConnectOptions, ServerHello } from "./client.ts";
export { ACCESS_LEVELS } from "./command.ts";
export { validateCommand } from "./validate_command.ts";
export type {
  AccessLevel,
  ArgSpec,
  CallerInfo,
  Chunk,
  Command,
  CommandInfo,
  Context,
  Flags,
  FlagSpec,
  JsonValue,
  PluginGrants,
  PluginStatus,
  ReloadReport,
  RunResult,
  ServerView,
} from "./command.ts";
export type {
  ProcessEvent,
  ProcessInfo,
  ProcessState,
  SuperviseReport,
  SupervisorView,
} from "./supervise/types.ts";
export { SockdError, Status, statusName } from "./errors.ts";
export type { SockdErrorOptions, StatusName } from "./errors.ts";
export { DEFAULT_LIMITS } from "./limits.ts";
export type { Limits, ListenerLimits } from "./limits.ts";
export type { LogFields, Logger, LogLevel } from "./log.ts";
export { VERSION } from "./version.ts";
