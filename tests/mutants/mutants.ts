/**
 * Deliberate bugs `deno task mutants` puts into a copy of the repository,
 * one at a time, each with the test files that must catch it (fail or hang
 * when it is in). See "Tests that fail when the code is wrong" in README.md.
 *
 * `find` is exact text that must occur exactly once in `file`; the runner
 * refuses to start when it does not (the code moved on: update the mutant).
 * Keep `find` short and specific so unrelated edits leave it intact. Add a
 * mutant with every fix, security fixes first: the bug that was fixed, put
 * back.
 *
 * @module
 */

/** One deliberate bug. */
export interface Mutant {
  /** Short, unique; what the bug does. */
  name: string;
  /** The file it changes, relative to the repository root. */
  file: string;
  /** Exact text, found exactly once in `file`. */
  find: string;
  /** What `find` becomes. */
  replace: string;
  /** Test files (relative to the root) of which at least one must fail with the bug in. */
  tests: string[];
}

export const mutants: Mutant[] = [
  // The five the tests caught when the list started.
  {
    name: "access check always allows",
    file: "lib/dispatcher.ts",
    find: "if (!accessAllows(env.caller.access, entry.info.access)) {",
    replace: "if (false) {",
    tests: ["tests/operations_test.ts"],
  },
  {
    name: "frame limit never triggers",
    file: "lib/dialects/_frame_decoder.ts",
    find: "if (size > this.#max) {",
    replace: "if (false) {",
    tests: ["tests/dialects/frame_decoder_test.ts"],
  },
  {
    name: "cancel is a no-op",
    file: "lib/session.ts",
    find:
      'this.#calls?.get(req.id)?.call.abort(new SockdError(Status.CANCELLED, "Cancelled by the client"));',
    replace: "void 0;",
    tests: ["tests/client_test.ts"],
  },
  {
    name: "socket mode 0666 by default",
    file: "lib/listener.ts",
    find: "const mode = options.mode ?? 0o600;",
    replace: "const mode = options.mode ?? 0o666;",
    tests: ["tests/server_test.ts"],
  },
  {
    name: "maxConnections never enforced",
    file: "lib/_connections.ts",
    find: "if (listening.sessions.size >= own.maxConnections) {",
    replace: "if (false) {",
    tests: ["tests/session_limits_test.ts", "tests/listener_limits_test.ts"],
  },
  // The seven that passed every test when the list started (issue 17).
  {
    name: "client deadline not capped by maxCallTimeoutMs",
    file: "lib/dispatcher.ts",
    find: "if (asked !== undefined && asked > 0) return Math.min(asked, maxCallTimeoutMs);",
    replace: "if (asked !== undefined && asked > 0) return asked;",
    tests: ["tests/session_limits_test.ts"],
  },
  {
    name: "plugin loader takes *.d.ts, *_test.ts and dot-files",
    file: "lib/plugins/loader.ts",
    find: 'return !name.startsWith("_") && !name.startsWith(".") && !name.endsWith(".d.ts") &&\n' +
      "    !/_test\\.[tj]s$/.test(name);",
    replace: 'return !name.startsWith("_");',
    tests: ["tests/plugins/loader_test.ts"],
  },
  {
    name: "sockd serve keeps the network permission",
    file: "lib/cli/serve.ts",
    find: 'await Deno.permissions.revoke({ name: "net" });',
    replace: "",
    tests: ["tests/e2e/least_privilege_test.ts"],
  },
  {
    name: "deadlines fire up to 15 ms early",
    file: "lib/_deadlines.ts",
    find: "const now = performance.now();",
    replace: "const now = performance.now() + 15;",
    tests: ["tests/deadlines_test.ts"],
  },
  {
    name: "input queue never applies backpressure",
    file: "lib/_input_queue.ts",
    find: "if ((this.#ctl.desiredSize ?? 1) > 0) return undefined;",
    replace: "return undefined;",
    tests: ["tests/session_limits_test.ts"],
  },
  {
    name: "socket-path-too-long error loses the limit",
    file: "lib/listener.ts",
    find: "is longer than ${MAX_SOCKET_PATH_BYTES} bytes, the limit for UNIX sockets",
    replace: "is too long",
    tests: ["tests/listener_test.ts"],
  },
  {
    name: "live-socket refusal loses its --takeover hint",
    file: "lib/listener.ts",
    find: "choose another --socket, or use --takeover",
    replace: "or choose another --socket",
    tests: ["tests/listener_test.ts"],
  },
  // Behaviour documented without a test until issue 17, and tests made to check what they claim.
  {
    name: "a removed deadline still fires",
    file: "lib/_deadlines.ts",
    find: "if (i < 0) return;",
    replace: "return;",
    tests: ["tests/deadlines_test.ts"],
  },
  {
    name: "a client that sends without being read fills the server's memory",
    file: "lib/_handle_transport.ts",
    find: "if (this.#queued > HIGH_WATER && this.#reading) {",
    replace: "if (false) {",
    tests: ["tests/node_transport_test.ts"],
  },
  {
    name: "a connection handed over loses what its socket had read",
    file: "lib/_handle_transport.ts",
    find: "for (const chunk of early) this.#queue(chunk);",
    replace: "",
    tests: ["tests/node_transport_test.ts"],
  },
  {
    name: "a second signal waits out the drain",
    file: "lib/_running_server.ts",
    find: "for (const s of this.#connections.sessions) s.shutdown(options.drainMs).catch(() => {});",
    replace: "",
    tests: ["tests/e2e/serve_lifecycle_test.ts"],
  },
  {
    name: "default socket path skips $XDG_RUNTIME_DIR",
    file: "lib/cli/socket_path.ts",
    find: 'if (runtime) return { path: join(runtime, "sockd.sock"), privateDir: runtime, create: false };',
    replace: "",
    tests: ["tests/e2e/serve_lifecycle_test.ts"],
  },
  {
    name: "per-user socket directory made 0755",
    file: "lib/cli/socket_path.ts",
    find: "await Deno.mkdir(dir, { mode: 0o700 });",
    replace: "await Deno.mkdir(dir, { mode: 0o755 });",
    tests: ["tests/e2e/serve_lifecycle_test.ts"],
  },
  {
    name: "--log-format json logs text",
    file: "lib/cli/logger.ts",
    find: 'if (format === "json") {',
    replace: "if (false) {",
    tests: ["tests/e2e/serve_lifecycle_test.ts"],
  },
  {
    name: "takeover gives up when the old server refuses to drain",
    file: "lib/cli/serve.ts",
    find: '    logger.warn("Took over the socket, but the old server refused to drain; stop it yourself", {',
    replace:
      '    throw err;\n    logger.warn("Took over the socket, but the old server refused to drain; stop it yourself", {',
    tests: ["tests/e2e/takeover_test.ts"],
  },
  {
    name: "connections reports no running time",
    file: "lib/_call_table.ts",
    find: "ms: Math.round(now - c.started)",
    replace: "ms: 0",
    tests: ["tests/operations_test.ts"],
  },
  {
    name: "text dialect keeps the backslash of \\$ in double quotes",
    file: "lib/dialects/_tokenize.ts",
    find: 'const DOUBLE_QUOTE_ESCAPES = new Set([\'"\', "\\\\", "$", "`"]);',
    replace: 'const DOUBLE_QUOTE_ESCAPES = new Set([\'"\', "\\\\", "`"]);',
    tests: ["tests/dialects/tokenize_test.ts", "tests/cli/repl_test.ts"],
  },
  {
    name: "a request the session cannot decode is dropped without an answer",
    file: "lib/session.ts",
    find: 'this.#send({ type: "end", id: req.id, status: req.status, error: req.message });',
    replace: "",
    tests: ["tests/server_test.ts"],
  },
  {
    name: "calls refused before the per-connection limit is reached",
    file: "lib/_session_calls.ts",
    find: "if ((calls?.size ?? 0) >= this.#o.limits.maxCallsPerConnection) {",
    replace: "if ((calls?.size ?? 0) >= this.#o.limits.maxCallsPerConnection / 2) {",
    tests: ["tests/session_test.ts"],
  },
  // Issue 11: nobody else can stand between an operator and the socket. Each attack, re-opened.
  {
    name: "default socket directory: a symlink is followed",
    file: "lib/socket_trust.ts",
    find: "  if (info.isSymlink) {",
    replace: "  if (false) {",
    tests: ["tests/e2e/socket_dirs_test.ts"],
  },
  {
    name: "default socket directory: another user's is trusted",
    file: "lib/socket_trust.ts",
    find: "  if (info.uid !== uid) {",
    replace: "  if (false) {",
    tests: ["tests/e2e/socket_dirs_test.ts"],
  },
  {
    name: "default socket directory: open modes are trusted",
    file: "lib/socket_trust.ts",
    find: "  if (info.mode !== null && (info.mode & 0o077) !== 0) {",
    replace: "  if (false) {",
    tests: ["tests/e2e/socket_dirs_test.ts"],
  },
  {
    name: "client talks to a socket owned by a stranger",
    file: "lib/socket_trust.ts",
    find: "  if (info.uid !== null && !trusted.has(info.uid)) {",
    replace: "  if (false) {",
    tests: ["tests/e2e/socket_owner_test.ts"],
  },
  // Issue 10: plugins in their own processes. Each defeated attack, re-opened.
  {
    name: "import check lets any specifier through",
    file: "lib/plugins/import_policy.ts",
    find: 'if (!isLocal(s)) refuse(s, name, "it is not a file in the plugin directory");',
    replace: "if (!isLocal(s)) continue;",
    tests: ["tests/plugins/import_policy_test.ts"],
  },
  {
    name: "import check misses literal dynamic imports",
    file: "lib/plugins/import_policy.ts",
    find: "        const s = literal(node.source);\n        if (s !== undefined) out.push(s);",
    replace: "",
    tests: ["tests/plugins/import_policy_test.ts"],
  },
  {
    name: "import check does not resolve symlinks",
    file: "lib/plugins/import_policy.ts",
    find: "      real = await Deno.realPath(path);",
    replace: "      real = path;",
    tests: ["tests/plugins/import_policy_test.ts"],
  },
  {
    name: "host's command list is believed unchecked",
    file: "lib/runner/host_protocol.ts",
    find:
      'return { t: "loaded", commands: v.commands.map((c, i) => parseCommandMeta(c, `commands[${i}]`)) };',
    replace: 'return { t: "loaded", commands: v.commands as CommandMeta[] };',
    tests: ["tests/runner/host_protocol_test.ts"],
  },
  {
    name: "plugin worker inherits its host's permissions",
    file: "lib/runner/host_main.ts",
    find: "    deno: { permissions: workerPermissions(grants) },",
    replace: '    deno: { permissions: "inherit" },',
    tests: ["tests/runner/plugin_host_test.ts"],
  },
  {
    name: "a call past its deadline and grace never gets its host killed",
    file: "lib/runner/plugin_host.ts",
    find: "      if (call.isSettled || live.dead) return;\n      const timedOut",
    replace: "      if (call) return;\n      const timedOut",
    tests: ["tests/e2e/plugins_test.ts"],
  },
  {
    name: "an idle plugin host is never stopped",
    file: "lib/runner/_idle_stop.ts",
    find: "if (!this.#pinned && idle()) this.#stop();",
    replace: "if (false) this.#stop();",
    tests: ["tests/runner/host_idle_test.ts"],
  },
  {
    name: "a host started after an idle stop runs whatever the file holds now",
    file: "lib/runner/host_main.ts",
    find: "if (await contentDigest(bytes) !== sha256) {",
    replace: "if (false) {",
    tests: ["tests/runner/host_idle_test.ts"],
  },
  {
    name: "a crash-looping plugin is never disabled",
    file: "lib/runner/restart_policy.ts",
    find: "    if (n < maxFailures) return",
    replace: "    if (true) return",
    tests: ["tests/runner/plugin_host_test.ts"],
  },
  {
    name: "plugin state has no byte budget in the server",
    file: "lib/runner/state.ts",
    find: "if (state.bytesWith(op.key, size) > limits.maxStateBytes) return",
    replace: "if (false) return",
    tests: ["tests/runner/plugin_host_test.ts"],
  },
  {
    name: "a plugin's log fields pass for the server's",
    file: "lib/runner/host_log.ts",
    find: "    if (fields && Object.keys(fields).length > 0) out.fields = bounded(fields);",
    replace: "    if (fields) Object.assign(out, fields);",
    tests: ["tests/runner/host_log_test.ts"],
  },
  {
    name: "a plugin's log lines are not rate-limited",
    file: "lib/runner/host_log.ts",
    find: "    if (this.#left <= 0) {",
    replace: "    if (false) {",
    tests: ["tests/runner/host_log_test.ts"],
  },
  {
    name: "a plugin's newlines forge log lines",
    file: "lib/runner/host_log.ts",
    find: '(c) => c === "\\t" ? " " : JSON.stringify(c).slice(1, -1),',
    replace: "(c) => c,",
    tests: ["tests/runner/host_log_test.ts"],
  },
  {
    name: "a log line's fields override the logger's own keys",
    file: "lib/cli/logger.ts",
    find: 'write(JSON.stringify({ ...fields, ts, level: lvl, msg }) + "\\n");',
    replace: 'write(JSON.stringify({ ts, level: lvl, msg, ...fields }) + "\\n");',
    tests: ["tests/runner/host_log_test.ts"],
  },
  // Protocol edges (issue 14): each fix, put back.
  {
    name: "a 0xc1 msgpack body reads as a frame of unknown type",
    file: "lib/codec.ts",
    find: "if (value === NEVER_USED) throw",
    replace: "if (false) throw",
    tests: ["tests/dialects/msgpack_test.ts", "tests/protocol_edges_test.ts"],
  },
  {
    name: "a reused id in flight is refused under that id (two ends for one id)",
    file: "lib/_session_calls.ts",
    find:
      'this.#host.send({ type: "end", id: null, status: Status.BAD_REQUEST, error, details: { id: req.id } });',
    replace: 'this.#host.send({ type: "end", id: req.id, status: Status.BAD_REQUEST, error });',
    tests: ["tests/protocol_edges_test.ts"],
  },
  {
    name: "text framed output is not dot-stuffed",
    file: "lib/dialects/text.ts",
    find: "if (bytes[i] === DOT && (i === 0 ? this.#atLineStart : bytes[i - 1] === LF)) at.push(i);",
    replace: "if (false) at.push(i);",
    tests: ["tests/protocol_edges_test.ts"],
  },
  {
    name: "text does not split a line at ;",
    file: "lib/dialects/_tokenize.ts",
    find: 'if (c === ";" && atSemicolons) {',
    replace: "if (false) {",
    tests: ["tests/protocol_edges_test.ts"],
  },
  // The one-shot client (issue 14).
  {
    name: "sockd call sends stdin to every command",
    file: "lib/cli/call.ts",
    find: "return info?.input !== false;",
    replace: "return true;",
    tests: ["tests/cli/call_test.ts"],
  },
  // The fast path of a plain sockd call (issue 18).
  {
    name: "a plain sockd call waits forever for a server that never greets",
    file: "lib/cli/_oneshot_client.ts",
    find: '  deadline.addEventListener("abort", onTimeout, { once: true });\n',
    replace: "",
    tests: ["tests/cli/call_fast_test.ts"],
  },
  {
    name: "the one-shot call reads 64-bit integers as numbers, not as msgpackr's BigInt",
    file: "lib/cli/_msgpack_lite.ts",
    find: "return v.getBigUint64(take(r, 8));",
    replace: "return Number(v.getBigUint64(take(r, 8)));",
    tests: ["tests/cli/msgpack_lite_test.ts"],
  },
  {
    name: "a command without declared args refuses every word",
    file: "lib/args.ts",
    find: "if (cmd.args === undefined && cmd.flags === undefined) return { args: words.slice(), flags: {} };",
    replace: "",
    tests: ["tests/args_test.ts", "tests/cli/call_test.ts"],
  },
  {
    name: "commander's errors keep their own wording (no sockd: prefix, no did you mean)",
    file: "lib/cli/main.ts",
    find: "outputError: (text, write) => write(commanderError(text)),",
    replace: "",
    tests: ["tests/cli/call_test.ts"],
  },
  {
    name: "sockd call --interval does not repeat",
    file: "lib/cli/call_cli.ts",
    find: "for (let n = 0; n < count && !interrupt.signal.aborted; n++) {",
    replace: "for (let n = 0; n < 1; n++) {",
    tests: ["tests/cli/call_test.ts"],
  },
  {
    name: "an option of sockd call after the command gets no corrected line",
    file: "lib/cli/call_cli.ts",
    find: "hint: (e) => misplacedOption(e, command, args, opts),",
    replace: "",
    tests: ["tests/cli/call_test.ts"],
  },
  // Output for people and plugin reload (issue 14).
  {
    name: "a plugin fixed back to its serving content stays failed",
    file: "lib/plugins/manager.ts",
    find: "          if (rec.error !== undefined) {\n            rec.error = undefined;",
    replace: "          if (false) {\n            rec.error = undefined;",
    tests: ["tests/plugins/reload_test.ts"],
  },
  {
    name: "sockd call prints indented JSON on a terminal",
    file: "lib/cli/call_cli.ts",
    find: "human: opts.json !== true && Deno.stdout.isTerminal(),",
    replace: "human: false,",
    tests: ["tests/cli/human_test.ts"],
  },
  {
    name: "a client that resets its connection is logged at WARN and not counted",
    file: "lib/session.ts",
    find: "      if (isDrop(err)) this.#dropped(err);\n      else this.#o.logger.warn(",
    replace: "      this.#o.logger.warn(",
    tests: ["tests/stats_test.ts"],
  },
  {
    name: "serve ignores the embedding program's name",
    file: "lib/version.ts",
    find: "return { name: options.name ?? NAME, version: options.version ?? VERSION };",
    replace: "return { name: NAME, version: VERSION };",
    tests: ["tests/operations_test.ts"],
  },
  {
    name: "help @group lists every command",
    file: "commands/help.ts",
    find: "visible = visible.filter((c) => c.access === level);",
    replace: "",
    tests: ["tests/operations_test.ts"],
  },
  {
    name: "a mistyped flag gets no did you mean",
    file: "lib/args.ts",
    find: "throw badArgs(cmd, withSuggestion(cleanParseError(err), c.flagNames));",
    replace: "throw badArgs(cmd, cleanParseError(err));",
    tests: ["tests/args_test.ts"],
  },
  // The REPL (issue 14).
  {
    name: "the REPL shows no argument hints",
    file: "lib/cli/_hints.ts",
    find: 'if (!text.endsWith(" ")) return "";',
    replace: 'return "";',
    tests: ["tests/cli/repl_operator_test.ts"],
  },
  {
    name: "Ctrl-R does not search history",
    file: "lib/cli/repl.ts",
    find: 'if (key.type === "key" && key.name === "ctrl-r") {',
    replace: "if (false) {",
    tests: ["tests/cli/repl_operator_test.ts"],
  },
  {
    name: "the REPL exits when the server is not up yet",
    file: "lib/cli/_link.ts",
    find: "if (!absent || signal.aborted) throw err;",
    replace: "throw err;",
    tests: ["tests/cli/repl_operator_test.ts"],
  },
  {
    name: "the REPL prompt hides a read-only socket",
    file: "lib/cli/repl.ts",
    find: 'access === "admin" ? "" :',
    replace: 'true ? "" :',
    tests: ["tests/cli/repl_operator_test.ts"],
  },
  // The supervisor (issue 15): each of its promises, broken on purpose.
  {
    name: "supervisor: stop kills only the main process, not its group",
    file: "lib/supervise/supervised_process.ts",
    find: '        await signalGroup(pgid, "SIGKILL");',
    replace: '        child.kill("SIGKILL");',
    tests: ["tests/supervise/processes_test.ts"],
  },
  {
    name: "supervisor: backoff does not grow",
    file: "lib/supervise/supervised_process.ts",
    find: "spec.backoffMs * 2 ** Math.max(0, failures - 1)",
    replace: "spec.backoffMs",
    tests: ["tests/supervise/processes_test.ts"],
  },
  {
    name: "supervisor: reload restarts unchanged processes",
    file: "lib/supervise/supervisor.ts",
    find: "return JSON.stringify(a) === JSON.stringify(b);",
    replace: "return false;",
    tests: ["tests/supervise/processes_test.ts", "tests/e2e/supervise_test.ts"],
  },
  {
    name: "supervisor: stop, start and restart need only read access",
    file: "commands/processes.ts",
    find: '    summary,\n    access: "operate",',
    replace: '    summary,\n    access: "read",',
    tests: ["tests/supervise/processes_test.ts"],
  },
  {
    name: "supervisor: a child's log ring is as big as its flood",
    file: "lib/supervise/supervised_process.ts",
    find: "this.stdout = new LogRing(spec.logBytes);",
    replace: "this.stdout = new LogRing(256 << 20);",
    tests: ["tests/e2e/supervise_test.ts"],
  },
  {
    name: "supervisor: a slow follower's queue is unbounded",
    file: "lib/supervise/event_bus.ts",
    find: "if (s.used + c > s.max && s.queue.length > 0) {",
    replace: "if (false) {",
    tests: ["tests/supervise/log_ring_test.ts"],
  },
  {
    name: "plugins keep Worker and the Web Cache API",
    file: "lib/runner/_host_worker.ts",
    find: 'for (const name of ["Worker", "caches", "localStorage", "sessionStorage"]) {',
    replace: "for (const name of [] as string[]) {",
    tests: ["tests/plugins/attacks/bgspin_test.ts", "tests/plugins/attacks/storage_test.ts"],
  },
  {
    name: "plugin hosts may download at run time",
    file: "lib/runner/host_process.ts",
    find: '"--no-prompt", "--cached-only"]',
    replace: '"--no-prompt"]',
    tests: ["tests/plugins/attacks/modules_test.ts"],
  },
  {
    name: "WebAssembly imports pass the import check",
    file: "lib/plugins/import_policy.ts",
    find: 'if (ext === ".wasm") refuse(',
    replace: "if (false) refuse(",
    tests: ["tests/plugins/import_policy_test.ts"],
  },
  {
    name: "a host that stops answering between calls is never killed",
    file: "lib/runner/live_host.ts",
    find: "if (quiet > limitMs && !excused()) return o.silent(quiet);",
    replace: "",
    tests: ["tests/runner/plugin_host_test.ts"],
  },
  {
    name: "shutdown does not wait for a connection's last answers to leave",
    file: "lib/session.ts",
    find: "      await this.#ran;\n",
    replace: "",
    tests: ["tests/e2e/serve_lifecycle_test.ts", "tests/e2e/takeover_test.ts"],
  },
  {
    name: "a persistent call reading input is left silent when its connection moves",
    file: "lib/_session_calls.ts",
    find: "        state.call.abort(new SockdError(Status.CANCELLED, MOVED_WITH_INPUT));\n",
    replace: "",
    tests: ["tests/e2e/upgrade_connections_test.ts"],
  },
  {
    name: "the answers to a long read all wait for its end (the two sides take turns again)",
    file: "lib/_batch_writer.ts",
    find: "if (++this.#queued >= EARLY_WRITE_ANSWERS && !this.#writing) {",
    replace: "if (false) {",
    tests: ["tests/batch_writer_test.ts"],
  },
  {
    name: "the client reads again into a buffer whose bytes it handed out as chunks",
    file: "lib/_client_reader.ts",
    find: "if (view) shared = true;",
    replace: "if (view) shared = false;",
    tests: ["tests/client_stream_test.ts"],
  },
  {
    name: "the client accepts frames over its maxFrameBytes",
    file: "lib/_client_reader.ts",
    find: "if (size > max) {",
    replace: "if (false) {",
    tests: ["tests/client_stream_test.ts"],
  },
  {
    name: "a call's unread chunks never pause the client's reading",
    file: "lib/client_call.ts",
    find: "if (queue.length < PENDING_CHUNKS) return undefined;",
    replace: "return undefined;",
    tests: ["tests/client_stream_test.ts"],
  },
  {
    name: "the client's call table loses a call whose slot was taken",
    file: "lib/_client_call_table.ts",
    find: "return this.#spill.size > 0 ? this.#spill.get(id as number) : undefined;",
    replace: "return undefined;",
    tests: ["tests/client_call_table_test.ts"],
  },
  {
    name: "a small chunk iterated from a large read buffer pins all of it",
    file: "lib/_client_reader.ts",
    find: "2 * FRAMES_PER_BUFFER * chunk.length >= buf.length &&",
    replace: "true &&",
    tests: ["tests/client_stream_test.ts"],
  },
  {
    name: "the JSON lines fast path reads an id with a leading zero (JSON.parse refuses it)",
    file: "lib/dialects/_jsonl_call.ts",
    find: " || (digits > 1 && line[first] === 0x30)",
    replace: "",
    tests: ["tests/dialects/jsonl_call_test.ts"],
  },
  {
    name: "the JSON lines fast path reads a string with an escape as it is",
    file: "lib/dialects/_jsonl_call.ts",
    find: "if (c === BACKSLASH || c < 0x20 || c >= 0x80) return false;",
    replace: "if (c < 0x20 || c >= 0x80) return false;",
    tests: ["tests/dialects/jsonl_call_test.ts"],
  },
  {
    name: "a JSON lines answer reuses the last one's text whatever its result",
    file: "lib/dialects/jsonl.ts",
    find: "if (result !== this.#lastResult) {",
    replace: "if (typeof result !== typeof this.#lastResult) {",
    tests: ["tests/dialects/jsonl_test.ts"],
  },
  {
    name: "an answer written straight into the batch goes before the lone answer queued ahead of it",
    file: "lib/_batch_writer.ts",
    find:
      "    if (lone) {\n      this.#lone = undefined;\n      this.#append(lone);\n    }\n    return this.#reserve(",
    replace: "    return this.#reserve(",
    tests: ["tests/batch_writer_test.ts"],
  },
  {
    name: "a plain text line's words are cut at spaces only, not tabs",
    file: "lib/dialects/_tokenize.ts",
    find: "    if (c === 0x20 || c === 0x09) {\n      if (start >= 0) words.push(line.slice(start, i));",
    replace: "    if (c === 0x20) {\n      if (start >= 0) words.push(line.slice(start, i));",
    tests: ["tests/dialects/tokenize_test.ts"],
  },
  {
    name: "the JSON lines exact-shape reader takes a line with more after the command name",
    file: "lib/dialects/_jsonl_call.ts",
    find: "if (!readString(line, true) || r.pos !== end - 1) return undefined;",
    replace: "if (!readString(line, true)) return undefined;",
    tests: ["tests/dialects/jsonl_call_test.ts"],
  },
  {
    name: "sockd serve keeps the ffi permission after opening libc",
    file: "lib/cli/_idle_memory.ts",
    find: '    Deno.permissions.revokeSync({ name: "ffi" });',
    replace: "",
    tests: ["tests/cli/idle_memory_test.ts"],
  },
  {
    name: "the idle collection runs while calls keep coming",
    file: "lib/cli/_idle_memory.ts",
    find: "if (calls.inFlight > 0 || calls.ended !== this.#ended) {",
    replace: "if (calls.inFlight > 0) {",
    tests: ["tests/cli/idle_memory_test.ts"],
  },
  {
    name: "the batch buffer of a queued write takes the next answers while the socket still holds it",
    file: "lib/_batch_writer.ts",
    find:
      "if (this.#batch === undefined && this.#batchLen === 0) this.#batch = written;\n          else this.#spare = written;",
    replace: "this.#batch = written;",
    tests: ["tests/batch_writer_test.ts"],
  },
  {
    name: "a short answer's non-ASCII characters are copied into the batch as one byte each",
    file: "lib/_batch_writer.ts",
    find: "if (c >= 0x80) return false;",
    replace: "if (c >= 0x100) return false;",
    tests: ["tests/batch_writer_test.ts"],
  },
  {
    name: "a short line's non-ASCII bytes are decoded as one character each",
    file: "lib/dialects/_line_decoder.ts",
    find: "while (i < n && bytes[i]! < 0x80) i++;",
    replace: "while (i < n && bytes[i]! < 0x100) i++;",
    tests: ["tests/dialects/decode_utf8_test.ts", "tests/dialects/text_test.ts"],
  },
  {
    name: "a short read copied out of the shared read buffer misses its first byte",
    file: "lib/_handle_transport.ts",
    find: "for (let i = 0; i < take; i++) buf[i] = INTO[i]!;",
    replace: "for (let i = 1; i < take; i++) buf[i] = INTO[i]!;",
    tests: ["tests/node_transport_test.ts"],
  },
  {
    name: "a short answer whose write waits shares its buffer with the next connection's answer",
    file: "lib/_batch_writer.ts",
    find: "if (isShared) shared = new Uint8Array(SHORT_TEXT);",
    replace: "",
    tests: ["tests/batch_writer_test.ts"],
  },
];
