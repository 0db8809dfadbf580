/**
 * The server's handle on one plugin host process: starting it from the
 * server's own executable, the framed channel to it, what it writes to
 * stderr (captured, bounded, never passed through raw), its memory, and why
 * it ended.
 *
 * The host is started through `/proc/self/exe` (the running deno, or the
 * compiled sockd binary), so the permission that allows it is the same
 * `"run": ["/proc/self/exe"]` from source and compiled, whatever the
 * executable is called.
 *
 * @module
 */
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import type { PluginGrants } from "../command.ts";
import { SockdError, Status } from "../errors.ts";
import { FrameChannel } from "./frame_channel.ts";
import { type FromHost, parseHostMessage, ProtocolError, type ToHost } from "./host_protocol.ts";
import { HOST_SUBCOMMAND, type HostSpec, MEMORY_EXIT } from "./host_main.ts";
import { inheritedFds } from "../_inherited_fds.ts";

/** What a host is started for. */
export interface HostStart {
  file: string;
  grants: PluginGrants;
  /** Heap cap of the plugin's isolate, in MiB. */
  memoryMiB: number;
  /** Resident memory the host may use before it ends itself, in MiB. */
  rssLimitMiB: number;
  /** Largest message accepted from the host, in bytes. */
  maxMessageBytes: number;
  /** What the host checks before the plugin loads (its content, its imports). */
  checks?: Pick<HostSpec, "sha256" | "imports">;
  /** Each message, once validated. */
  onMessage: (msg: FromHost) => void;
  /** A line the host wrote to stderr (at most 4 KiB; longer lines are cut). */
  onOutput: (line: string) => void;
  /** Once, when the process has exited: why, in one line. */
  onExit: (why: SockdError, status: Deno.CommandStatus) => void;
}

const EXE = "/proc/self/exe";
const ROOT = new URL("../../", import.meta.url);
const MAX_LINE = 4096;
const TAIL = 8192;

/** The command line that starts a host. */
export function hostCommand(spec: HostSpec): string[] {
  const arg = JSON.stringify(spec);
  if (Deno.build.standalone) return [HOST_SUBCOMMAND, arg];
  const main = new URL("lib/runner/host_main.ts", ROOT).href;
  // --cached-only: a plugin's import built at run time (`import("npm:" + name)`) is not checked by
  // any permission, so the host never downloads: what is not in Deno's cache fails to load.
  const args = ["run", "-q", "--no-prompt", "--cached-only"];
  if (ROOT.protocol === "file:") {
    // The same permission set as the server: what a compiled binary bakes in.
    args.push(`--config=${fileURLToPath(new URL("deno.json", ROOT))}`, "-P=sockd");
  } else {
    args.push("--unstable-worker-options", "--allow-read", "--allow-write", "--allow-net", "--allow-env");
  }
  return [...args, main, arg];
}

/** One running host process. */
export class HostProcess {
  readonly pid: number;
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #channel: FrameChannel;
  #start: HostStart;
  #killed: SockdError | undefined;
  #broken: SockdError | undefined;
  #tail = "";
  #exited = false;
  readonly exited: Promise<void>;

  constructor(start: HostStart) {
    this.#start = start;
    this.#child = new Deno.Command(EXE, {
      args: hostCommand({
        file: start.file,
        grants: start.grants,
        rssLimitMiB: start.rssLimitMiB,
        ...start.checks,
        ...(inheritedFds().length ? { closeFds: inheritedFds() } : {}),
      }),
      env: { DENO_V8_FLAGS: `--max-old-space-size=${start.memoryMiB}`, NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    this.#writer = this.#child.stdin.getWriter();
    this.#writer.closed.catch(() => {});
    this.#channel = new FrameChannel((bytes) => this.#writer.write(bytes), start.maxMessageBytes);
    const out = this.#readOut();
    const err = this.#readErr();
    this.exited = Promise.all([this.#child.status, out, err]).then(([status]) => {
      this.#exited = true;
      start.onExit(this.#why(status), status);
    });
  }

  /** Bytes sent to the host that it has not read yet. */
  get pendingBytes(): number {
    return this.#channel.pendingBytes;
  }

  /** Whether the process has exited. */
  get isExited(): boolean {
    return this.#exited;
  }

  /** Sends one message; false when it cannot be encoded. */
  send(msg: ToHost): boolean {
    if (this.#killed || this.#exited) return true;
    try {
      this.#channel.send(msg);
      return true;
    } catch {
      return false;
    }
  }

  /** Ends the host now (SIGKILL); `why` is what its calls are told. */
  kill(why: SockdError): void {
    if (this.#exited) return;
    this.#killed ??= why;
    try {
      this.#child.kill("SIGKILL");
    } catch { /* already gone */ }
  }

  /** Closes the host's stdin: a healthy host finishes and exits. */
  close(): void {
    this.#writer.close().catch(() => {});
  }

  async #readOut() {
    try {
      for await (const chunk of this.#child.stdout) {
        if (this.#killed) continue;
        let msgs: unknown[];
        try {
          msgs = this.#channel.feed(chunk);
        } catch (err) {
          this.#protocolError(
            `it wrote bytes that are not sockd frames to stdout (${(err as Error).message})`,
          );
          continue;
        }
        for (const raw of msgs) {
          if (this.#killed) break;
          let msg: FromHost;
          try {
            msg = parseHostMessage(raw);
          } catch (err) {
            this.#protocolError(err instanceof ProtocolError ? err.message : String(err));
            break;
          }
          this.#start.onMessage(msg);
        }
      }
    } catch { /* the pipe broke: the exit says why */ }
  }

  async #readErr() {
    const decoder = new TextDecoder();
    let line = "";
    // A line over MAX_LINE is cut there, and the rest of it, up to its newline, dropped.
    let skipping = false;
    try {
      for await (const chunk of this.#child.stderr) {
        const text = decoder.decode(chunk, { stream: true });
        this.#tail = (this.#tail + text).slice(-TAIL);
        let rest = text;
        while (rest) {
          const nl = rest.indexOf("\n");
          const part = nl >= 0 ? rest.slice(0, nl) : rest;
          rest = nl >= 0 ? rest.slice(nl + 1) : "";
          if (!skipping) {
            line += part;
            if (line.length > MAX_LINE) {
              this.#start.onOutput(line.slice(0, MAX_LINE) + "…");
              line = "";
              skipping = true;
            }
          }
          if (nl < 0) break;
          if (!skipping) this.#start.onOutput(line);
          line = "";
          skipping = false;
        }
      }
    } catch { /* gone */ }
    if (line && !skipping) this.#start.onOutput(line);
  }

  #protocolError(why: string) {
    this.#broken ??= new SockdError(
      Status.HANDLER_ERROR,
      `Plugin host of ${basename(this.#start.file)} broke the protocol and was stopped: ${why}`,
    );
    this.kill(this.#broken);
  }

  #why(status: Deno.CommandStatus): SockdError {
    if (this.#killed) return this.#killed;
    const name = basename(this.#start.file);
    const rss = status.code === MEMORY_EXIT ? /resident memory reached (\d+) MiB/.exec(this.#tail) : null;
    if (rss || /out of memory|heap limit|Allocation failed/i.test(this.#tail)) {
      const used = rss ? `its resident memory reached ${rss[1]} MiB` : "its heap filled up";
      return new SockdError(
        Status.HANDLER_ERROR,
        `Plugin ${name} ran out of memory: ${used}, over its cap of ${this.#start.memoryMiB} MiB ` +
          `(raise "memory" for it in sockd.json if it needs more)`,
      );
    }
    const how = status.signal ? `signal ${status.signal}` : `code ${status.code}`;
    const said = this.#tail.split("\n").map((l) => l.replace(/^sockd-host: /, "").trim()).filter(Boolean).at(
      -1,
    );
    return new SockdError(
      Status.HANDLER_ERROR,
      `Plugin host of ${name} exited (${how})${said ? `: ${said.slice(0, 300)}` : ""}`,
    );
  }
}
