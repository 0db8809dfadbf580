/**
 * Minimal raw-socket clients for the three dialects, written from
 * PROTOCOL.md rather than with lib/client.ts, behind one interface so the
 * conformance suite runs the same scenarios against each. Every wait has a
 * deadline.
 */
import type { Chunk } from "../../lib/command.ts";
import { concatBytes } from "../../lib/_bytes.ts";
import { decodeFrameBody, encodeFrame, MSGPACK_PREFACE } from "../../lib/dialects/msgpack.ts";
import { frame, FrameDecoder } from "../../lib/dialects/_frame_decoder.ts";
import { quote } from "../../lib/dialects/_tokenize.ts";
import { fromJsonValue, toJsonValue } from "../../lib/json_value.ts";

/** Input bytes per request, small enough for the conformance server's 1 KiB line limit. */
const INPUT_PIECE = 500;

/** How long any single wait in these clients may take. */
export const WAIT_MS = 5_000;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** How a call ended, and what it wrote. */
export interface Outcome {
  status: number;
  /** Error message, when status is not 0. */
  error?: string;
  /** Status name, where the dialect sends one. */
  name?: string;
  /** What a person sees: the chunks and the result rendered as the text dialect renders them. */
  transcript: Uint8Array;
  /** Data chunks as sent, where the dialect keeps them apart (not text). */
  chunks?: Chunk[];
  /** The result, where the dialect keeps it apart from output (not text). */
  result?: unknown;
}

/** A call in progress. */
export interface CallHandle {
  /** Resolves once the call's output so far includes `text`. */
  output(text: string): Promise<void>;
  /** Cancels the call the dialect's way (text: by disconnecting). */
  cancel(): Promise<void>;
  /** Resolves when the call ends; never settles for a text call cancelled by disconnecting. */
  done: Promise<Outcome>;
}

/** Options of a call. */
export interface CallOpts {
  timeoutMs?: number;
  input?: string | Uint8Array;
}

/** One connection speaking one dialect. */
export interface DialectClient {
  /** Starts a call. */
  start(command: string, args?: string[], options?: CallOpts): CallHandle;
  /** Runs a call to its end. */
  call(command: string, args?: string[], options?: CallOpts): Promise<Outcome>;
  /** Sends a request over the size limit; resolves with the error answer. */
  sendOversized(limit: number): Promise<Outcome>;
  /** Sends an unparseable request; resolves with the error answer. */
  sendGarbage(): Promise<Outcome>;
  /** Shuts down the write side; the server should answer what is in flight and close. */
  closeWrite(): Promise<void>;
  /** Resolves when the server has closed the connection. */
  closed: Promise<void>;
  close(): void;
}

/** What a conformance run needs to know about a dialect. */
export interface DialectAdapter {
  name: "text" | "jsonl" | "msgpack";
  connect(path: string): Promise<DialectClient>;
  /** Whether several calls run at once on one connection. */
  concurrent: boolean;
  /** Whether the client can attach input and a deadline to a call. */
  callOptions: boolean;
  /** Whether a cancelled call's 106 comes back on the wire (text cancels by disconnecting). */
  cancelAnswered: boolean;
  /** The message a cancelled command's signal carries. */
  cancelReason: string;
  /** Whether the connection stays usable after a bad or oversized request. */
  survivesBadInput: boolean;
}

/** Rejects with a message naming `what` unless `promise` settles within `ms`. */
export function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Renders chunks and a result the way the text dialect writes them (for outputs that end lines). */
export function renderTranscript(chunks: Chunk[], result: unknown): Uint8Array {
  const parts = chunks.map((c) =>
    c instanceof Uint8Array
      ? c
      : enc.encode(typeof c === "string" ? c : JSON.stringify(toJsonValue(c)) + "\n")
  );
  if (typeof result === "string") parts.push(enc.encode(result.endsWith("\n") ? result : result + "\n"));
  else if (result instanceof Uint8Array) parts.push(result);
  else if (result !== undefined && result !== null) {
    parts.push(enc.encode(JSON.stringify(toJsonValue(result)) + "\n"));
  }
  return concatBytes(parts);
}

interface Pending {
  chunks: Chunk[];
  resolve(o: Outcome): void;
  reject(e: Error): void;
  watch?: () => void;
}

/** Reads a connection in the background, handing bytes to `onBytes`. */
abstract class RawClient {
  readonly closed: Promise<void>;
  protected conn: Deno.UnixConn;
  #dead = false;

  constructor(conn: Deno.UnixConn) {
    this.conn = conn;
    this.closed = this.#read();
    this.closed.catch(() => {});
  }

  async #read() {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        this.onBytes(buf.slice(0, n));
      }
    } catch { /* closed under us */ }
    this.#dead = true;
    this.onClose();
  }

  protected abstract onBytes(bytes: Uint8Array): void;
  protected abstract onClose(): void;

  protected async write(bytes: Uint8Array) {
    if (this.#dead) throw new Error("Connection closed");
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  async closeWrite(): Promise<void> {
    await this.conn.closeWrite();
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

// ---------------------------------------------------------------- text

const PROMPT = enc.encode("\nsockd> ");
const ERROR_LINE = /(?:^|\n)error (\d{3}): ([^\n]*)\n$/;

/** Speaks the text dialect in prompt mode, where every answer ends with an empty line and the prompt. */
class TextClient extends RawClient implements DialectClient {
  #buf: Uint8Array = new Uint8Array(0);
  #queue: (Pending & { out: Uint8Array[] })[] = [];
  #ready: Pending | undefined;

  static async open(path: string): Promise<TextClient> {
    const c = new TextClient(await Deno.connect({ transport: "unix", path }));
    const ready = new Promise<Outcome>((resolve, reject) => c.#ready = { chunks: [], resolve, reject });
    await c.write(enc.encode("prompt on\n"));
    await within(ready, "the text prompt");
    return c;
  }

  protected onBytes(bytes: Uint8Array) {
    this.#buf = concatBytes([this.#buf, bytes]);
    if (this.#ready) {
      // The first prompt after `prompt on` is bare: "sockd> ".
      if (dec.decode(this.#buf).endsWith("sockd> ")) {
        this.#buf = new Uint8Array(0);
        const r = this.#ready;
        this.#ready = undefined;
        r.resolve({ status: 0, transcript: new Uint8Array(0) });
      }
      return;
    }
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      let at = -1;
      for (let from = 0;;) {
        const i = indexOf(this.#buf, PROMPT, from);
        if (i === -1) break;
        if (i === 0 || this.#buf[i - 1] === 0x0a) {
          at = i;
          break;
        }
        from = i + 1;
      }
      if (at === -1) {
        head.out = [this.#buf];
        head.watch?.();
        return;
      }
      const answer = this.#buf.slice(0, at);
      this.#buf = this.#buf.slice(at + PROMPT.length);
      this.#queue.shift();
      head.resolve(TextClient.#parse(answer));
    }
  }

  static #parse(answer: Uint8Array): Outcome {
    // An error line is valid UTF-8 by construction; look for it at the end.
    const tail = dec.decode(answer.subarray(Math.max(0, answer.length - 4096)));
    const m = ERROR_LINE.exec(tail);
    if (!m) return { status: 0, transcript: answer };
    const errBytes = enc.encode(m[0].replace(/^\n/, "")).length;
    return { status: Number(m[1]), error: m[2], transcript: answer.slice(0, answer.length - errBytes) };
  }

  protected onClose() {
    for (const p of this.#queue.splice(0)) p.reject(new Error("Connection closed"));
    this.#ready?.reject(new Error("Connection closed"));
  }

  #expect(): { pending: Pending & { out: Uint8Array[] }; done: Promise<Outcome> } {
    let pending!: Pending & { out: Uint8Array[] };
    const done = new Promise<Outcome>((resolve, reject) => {
      pending = { chunks: [], out: [], resolve, reject };
    });
    done.catch(() => {});
    this.#queue.push(pending);
    return { pending, done };
  }

  start(command: string, args: string[] = [], options: CallOpts = {}): CallHandle {
    if (options.timeoutMs !== undefined || options.input !== undefined) {
      throw new TypeError("The text dialect has no per-call deadline or input");
    }
    const { pending, done } = this.#expect();
    const sent = this.write(enc.encode([command, ...args].map(quote).join(" ") + "\n"));
    sent.catch((e) => pending.reject(e));
    return {
      done,
      output: (text) =>
        within(
          new Promise<void>((resolve) => {
            const check = () => {
              if (dec.decode(concatBytes(pending.out)).includes(text)) resolve();
            };
            pending.watch = check;
            check();
          }),
          `output ${JSON.stringify(text)}`,
        ),
      // No ids, so no cancel request: a text client cancels by disconnecting.
      cancel: () => Promise.resolve(this.close()),
    };
  }

  call(command: string, args?: string[], options?: CallOpts): Promise<Outcome> {
    return within(this.start(command, args, options).done, `${command} to end`);
  }

  async sendOversized(limit: number): Promise<Outcome> {
    const { done } = this.#expect();
    await this.write(enc.encode(`echo ${"x".repeat(limit + 10)}\n`));
    return await within(done, "the 108 answer");
  }

  async sendGarbage(): Promise<Outcome> {
    const { done } = this.#expect();
    await this.write(new Uint8Array([0x65, 0x63, 0xff, 0xfe, 0x0a])); // "ec" then invalid UTF-8
    return await within(done, "the 102 answer");
  }
}

// ---------------------------------------------------------------- jsonl

/** Speaks JSON lines. */
class JsonlClient extends RawClient implements DialectClient {
  #buf = "";
  #utf8 = new TextDecoder();
  #calls = new Map<number, Pending>();
  #errors: Outcome[] = [];
  #errorWaiters: ((o: Outcome) => void)[] = [];
  #next = 1;

  static async open(path: string): Promise<JsonlClient> {
    return new JsonlClient(await Deno.connect({ transport: "unix", path }));
  }

  protected onBytes(bytes: Uint8Array) {
    this.#buf += this.#utf8.decode(bytes, { stream: true });
    let nl;
    while ((nl = this.#buf.indexOf("\n")) !== -1) {
      const line = this.#buf.slice(0, nl);
      this.#buf = this.#buf.slice(nl + 1);
      this.#onMessage(JSON.parse(line));
    }
  }

  #onMessage(msg: Record<string, unknown>) {
    if (msg.id === null) {
      const o = {
        status: msg.status as number,
        error: msg.error as string,
        name: msg.name as string,
      } as Outcome;
      const w = this.#errorWaiters.shift();
      if (w) w(o);
      else this.#errors.push(o);
      return;
    }
    const call = this.#calls.get(msg.id as number);
    if (!call) throw new Error(`Answer for unknown id ${msg.id}`);
    if ("data" in msg) {
      call.chunks.push(fromJsonValue(msg.data) as Chunk);
      call.watch?.();
      return;
    }
    this.#calls.delete(msg.id as number);
    const result = fromJsonValue(msg.result);
    call.resolve({
      status: msg.status as number,
      error: msg.error as string | undefined,
      name: msg.name as string | undefined,
      chunks: call.chunks,
      result,
      transcript: renderTranscript(call.chunks, result),
    });
  }

  protected onClose() {
    for (const p of this.#calls.values()) p.reject(new Error("Connection closed"));
    this.#calls.clear();
  }

  #nextError(): Promise<Outcome> {
    const got = this.#errors.shift();
    if (got) return Promise.resolve(got);
    return within(new Promise((r) => this.#errorWaiters.push(r)), "a connection-level error answer");
  }

  #send(msg: unknown) {
    return this.write(enc.encode(JSON.stringify(msg) + "\n"));
  }

  start(command: string, args: string[] = [], options: CallOpts = {}): CallHandle {
    const id = this.#next++;
    let pending!: Pending;
    const done = new Promise<Outcome>((resolve, reject) => pending = { chunks: [], resolve, reject });
    done.catch(() => {});
    this.#calls.set(id, pending);
    const req: Record<string, unknown> = { id, command, args };
    if (options.timeoutMs !== undefined) req.timeout = options.timeoutMs;
    // Strings go inline; bytes go as streamed data lines (both forms are part of the protocol).
    if (typeof options.input === "string") req.input = options.input;
    else if (options.input) req.input = true;
    const input = options.input;
    (async () => {
      await this.#send(req);
      if (input instanceof Uint8Array) {
        for (let off = 0; off < input.length; off += INPUT_PIECE) {
          await this.#send({ id, data: toJsonValue(input.subarray(off, off + INPUT_PIECE)) });
        }
        await this.#send({ id, end: true });
      }
    })().catch((e) => pending.reject(e));
    return {
      done,
      output: (text) =>
        within(
          new Promise<void>((resolve) => {
            const check = () => {
              if (pending.chunks.some((c) => typeof c === "string" && c.includes(text))) resolve();
            };
            pending.watch = check;
            check();
          }),
          `output ${JSON.stringify(text)}`,
        ),
      cancel: () => this.#send({ id, cancel: true }),
    };
  }

  call(command: string, args?: string[], options?: CallOpts): Promise<Outcome> {
    return within(this.start(command, args, options).done, `${command} to end`);
  }

  async sendOversized(limit: number): Promise<Outcome> {
    await this.#send({ id: this.#next++, command: "echo", args: ["x".repeat(limit + 10)] });
    return await this.#nextError();
  }

  async sendGarbage(): Promise<Outcome> {
    await this.write(enc.encode('{"id": 1, "command": oops}\n'));
    return await this.#nextError();
  }
}

// ---------------------------------------------------------------- msgpack

/** Speaks the framed msgpack dialect. */
class MsgpackClient extends RawClient implements DialectClient {
  #frames = new FrameDecoder(16 * 1024 * 1024);
  #calls = new Map<number, Pending>();
  #hello: ((m: Record<string, unknown>) => void) | undefined;
  #fatal: ((o: Outcome) => void) | undefined;
  #next = 1;

  static async open(path: string): Promise<MsgpackClient> {
    const c = new MsgpackClient(await Deno.connect({ transport: "unix", path }));
    const hello = new Promise<Record<string, unknown>>((r) => c.#hello = r);
    await c.write(MSGPACK_PREFACE);
    const h = await within(hello, "the msgpack hello");
    if (h.type !== "hello") throw new Error(`Expected hello, got ${JSON.stringify(h)}`);
    return c;
  }

  protected onBytes(bytes: Uint8Array) {
    for (const body of this.#frames.push(bytes)) this.#onMessage(decodeFrameBody(body));
  }

  #onMessage(msg: Record<string, unknown>) {
    if (this.#hello) {
      const h = this.#hello;
      this.#hello = undefined;
      h(msg);
      return;
    }
    if (msg.type === "end" && (msg.id === null || msg.id === undefined)) {
      this.#fatal?.({
        status: msg.status as number,
        error: msg.error as string,
        transcript: new Uint8Array(0),
      });
      return;
    }
    const call = this.#calls.get(msg.id as number);
    if (!call) throw new Error(`Answer for unknown id ${msg.id}`);
    if (msg.type === "data") {
      call.chunks.push(msg.chunk as Chunk);
      call.watch?.();
      return;
    }
    this.#calls.delete(msg.id as number);
    call.resolve({
      status: msg.status as number,
      error: msg.error as string | undefined,
      chunks: call.chunks,
      result: msg.result,
      transcript: renderTranscript(call.chunks, msg.result),
    });
  }

  protected onClose() {
    for (const p of this.#calls.values()) p.reject(new Error("Connection closed"));
    this.#calls.clear();
  }

  #send(msg: Record<string, unknown>) {
    return this.write(encodeFrame(msg));
  }

  start(command: string, args: string[] = [], options: CallOpts = {}): CallHandle {
    const id = this.#next++;
    let pending!: Pending;
    const done = new Promise<Outcome>((resolve, reject) => pending = { chunks: [], resolve, reject });
    done.catch(() => {});
    this.#calls.set(id, pending);
    const input = typeof options.input === "string" ? enc.encode(options.input) : options.input;
    (async () => {
      await this.#send({
        type: "call",
        id,
        command,
        args,
        ...(input ? { input: true } : {}),
        ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
      });
      if (input) {
        for (let off = 0; off < input.length; off += INPUT_PIECE) {
          await this.#send({ type: "input", id, chunk: input.subarray(off, off + INPUT_PIECE) });
        }
        await this.#send({ type: "input-end", id });
      }
    })().catch((e) => pending.reject(e));
    return {
      done,
      output: (text) =>
        within(
          new Promise<void>((resolve) => {
            const check = () => {
              if (pending.chunks.some((c) => typeof c === "string" && c.includes(text))) resolve();
            };
            pending.watch = check;
            check();
          }),
          `output ${JSON.stringify(text)}`,
        ),
      cancel: () => this.#send({ type: "cancel", id }),
    };
  }

  call(command: string, args?: string[], options?: CallOpts): Promise<Outcome> {
    return within(this.start(command, args, options).done, `${command} to end`);
  }

  async sendOversized(limit: number): Promise<Outcome> {
    const answer = new Promise<Outcome>((r) => this.#fatal = r);
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, limit + 10);
    await this.write(header);
    return await within(answer, "the 108 answer");
  }

  async sendGarbage(): Promise<Outcome> {
    const answer = new Promise<Outcome>((r) => this.#fatal = r);
    await this.write(frame(new Uint8Array([0xc1, 0xc1])));
    return await within(answer, "the 102 answer");
  }
}

/** The three dialects, as the conformance suite sees them. */
export const ADAPTERS: readonly DialectAdapter[] = [
  {
    name: "text",
    connect: (path) => TextClient.open(path),
    concurrent: false,
    callOptions: false,
    cancelAnswered: false,
    cancelReason: "Client disconnected",
    survivesBadInput: true,
  },
  {
    name: "jsonl",
    connect: (path) => JsonlClient.open(path),
    concurrent: true,
    callOptions: true,
    cancelAnswered: true,
    cancelReason: "Cancelled by the client",
    survivesBadInput: true,
  },
  {
    name: "msgpack",
    connect: (path) => MsgpackClient.open(path),
    concurrent: true,
    callOptions: true,
    cancelAnswered: true,
    cancelReason: "Cancelled by the client",
    survivesBadInput: false,
  },
];
