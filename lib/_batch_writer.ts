/**
 * The write side of a session: answers queued while a write is under way go
 * out together, in one buffer. A chunk is copied into the batch as it is
 * queued, so its command may go on (and reuse its buffer) while the previous
 * batch is written, until `AHEAD_BYTES` wait for the socket: then
 * {@linkcode BatchWriter.whenTaken} makes the session's calls, and its
 * reading, wait until the socket takes the batch.
 *
 * @module
 */
import type { SockdError } from "./errors.ts";
import type { Transport } from "./transport.ts";
import { Alarm } from "./_idle_clock.ts";

const encoder = new TextEncoder();

/**
 * Bytes that may wait for the socket: below it a streaming call goes on while
 * the previous batch is written (its chunks copied into the next batch);
 * above it, calls wait and the session reads no more requests until the
 * socket has taken the batch.
 */
const AHEAD_BYTES = 256 * 1024;
/** First size of a batch buffer (they grow by doubling to what a batch needs). */
const MIN_BATCH_BUFFER = 4 * 1024;
/** Text up to this many UTF-16 units is copied by `asciiInto` when it is all ASCII. */
const SHORT_TEXT = 32;
/**
 * Where a short ASCII answer queued alone is copied to be written, shared by
 * every connection: free again as soon as the socket takes it at once (as it
 * does for most answers); a write that has to wait keeps it, and a new one
 * takes its place.
 */
let shared = new Uint8Array(SHORT_TEXT);
/** Batch buffers above this size are dropped once the connection has no call running. */
const KEEP_BATCH_BUFFER = 64 * 1024;
/** The batch buffers are dropped once nothing has been written for this long (an idle connection holds none). */
const BUFFER_IDLE_MS = 2000;
/** Queued text longer than this (UTF-16 units) is encoded into the batch at once rather than gathered further. */
const MAX_PENDING_TEXT = 16 * 1024;
/**
 * This many answers queued while no write is under way start one at once;
 * the rest of the read's answers follow when it is done (see `#schedule`).
 */
const EARLY_WRITE_ANSWERS = 16;

/** Queues a session's answers and writes them in batches, with backpressure. */
export class BatchWriter {
  #t: Transport;
  /** Told when a write fails: the connection is lost. */
  #onError: (err: unknown) => void;
  #broken = false;
  /** One encoded answer not yet copied anywhere: written as it is if nothing joins it (a lone answer). */
  #lone: Uint8Array | undefined;
  /** The batch being gathered, and its length. */
  #batch: Uint8Array | undefined;
  #batchLen = 0;
  /** Answers queued as text after the batch's bytes, encoded together when bytes follow or the batch is written. */
  #text = "";
  /** Answers in `#text`: one alone (not short ASCII) is encoded by itself (no batch buffer), more into the batch. */
  #texts = 0;
  /** The other batch buffer, free again once its write is done. */
  #spare: Uint8Array | undefined;
  #writing = false;
  #flushScheduled = false;
  /** Answers queued since the writer last took the queue. */
  #queued = 0;
  /** Resolves when the batch is taken by the writer (the waiting calls may fill the next one). */
  #taken: PromiseWithResolvers<void> | undefined;
  /** Resolves when the writer has written everything (for close). */
  #flushed: PromiseWithResolvers<void> | undefined;
  #lostError: SockdError | undefined;
  /** Drops the batch buffers once the connection has been quiet for `BUFFER_IDLE_MS`. */
  #quiet: Alarm | undefined;
  /** Whether `#quiet` is set, and whether a write was done since it was (it is then set again, not dropping). */
  #quietSet = false;
  #wrote = false;
  #closed = false;

  constructor(transport: Transport, onError: (err: unknown) => void) {
    this.#t = transport;
    this.#onError = onError;
  }

  /** More than `AHEAD_BYTES` wait for the socket: the client is not reading its answers. */
  get behind(): boolean {
    return this.#batchLen + this.#text.length >= AHEAD_BYTES;
  }

  /** Writes what this turn queued now, unless a write is under way. */
  flushQueued(): void {
    if (this.#flushScheduled && !this.#writing) this.#flush();
  }

  /** The connection is lost: nothing more is written, and a wait for the batch rejects with `error`. */
  lose(error: SockdError): void {
    this.#broken = true;
    this.#lostError = error;
    this.#text = "";
    this.#texts = 0;
    this.#quiet?.clear();
    this.#quietSet = false;
    this.#taken?.reject(error);
    this.#taken = undefined;
  }

  /**
   * Queues bytes for the next write. Bytes joining others are copied into the
   * batch at once, so `bytes` (which may be a command's own chunk, `borrowed`)
   * are free again when this returns, except for a lone answer of the
   * session's own, which is written as it is.
   */
  push(bytes: Uint8Array, borrowed: boolean): void {
    if (this.#text !== "") this.#encodeText();
    if (this.#batchLen === 0 && this.#lone === undefined && !borrowed) {
      this.#lone = bytes;
    } else {
      const lone = this.#lone;
      if (lone) {
        this.#lone = undefined;
        this.#append(lone);
      }
      this.#append(bytes);
    }
    this.#schedule();
  }

  /**
   * Queues text for the next write, to be encoded as UTF-8 (as
   * `TextEncoder` does) together with the text queued next to it: one
   * encoder call per batch instead of one per answer (those calls were
   * ~1/6 of the busy CPU with 16 pipelined JSON lines).
   */
  pushText(text: string): void {
    const lone = this.#lone;
    if (lone) {
      this.#lone = undefined;
      this.#append(lone);
    }
    this.#text += text;
    this.#texts++;
    if (this.#text.length > MAX_PENDING_TEXT) this.#encodeText();
    this.#schedule();
  }

  /** Whether bytes queued now would join others (be copied into the batch) rather than go out alone. */
  get joining(): boolean {
    return this.#batchLen > 0 || this.#lone !== undefined || this.#text !== "";
  }

  /**
   * The batch buffer with at least `bytes` free at {@linkcode BatchWriter.tail}
   * (what is queued moved into it first): an answer written there by its
   * dialect and queued with {@linkcode BatchWriter.commit} is never copied.
   */
  reserve(bytes: number): Uint8Array {
    if (this.#text !== "") this.#encodeText();
    const lone = this.#lone;
    if (lone) {
      this.#lone = undefined;
      this.#append(lone);
    }
    return this.#reserve(this.#batchLen + bytes);
  }

  /** Where the next answer's bytes go in the buffer {@linkcode BatchWriter.reserve} returned. */
  get tail(): number {
    return this.#batchLen;
  }

  /** Queues the bytes written into the batch buffer from `tail` up to `end`. */
  commit(end: number): void {
    this.#batchLen = end;
    this.#schedule();
  }

  #schedule() {
    if (++this.#queued >= EARLY_WRITE_ANSWERS && !this.#writing) {
      // The first answers to a long read go out while the rest are made, so the client works on them
      // meanwhile instead of the two sides taking turns: 64 msgpack calls in flight, 0.46M -> 0.82M calls/s.
      void this.#flush();
      return;
    }
    if (!this.#writing && !this.#flushScheduled) {
      this.#flushScheduled = true;
      // Everything queued in this turn (all the answers to one read) goes out in one write.
      // The session's flushQueued() usually writes them first: then this finds nothing to do.
      queueMicrotask(() => {
        if (this.#flushScheduled) this.#flush();
      });
    }
  }

  #append(bytes: Uint8Array) {
    const need = this.#batchLen + bytes.length;
    this.#reserve(need).set(bytes, this.#batchLen);
    this.#batchLen = need;
  }

  /** The batch buffer, grown to hold at least `need` bytes. */
  #reserve(need: number): Uint8Array {
    let batch = this.#batch;
    if (!batch || batch.length < need) {
      let size = Math.max(batch?.length ?? 0, this.#spare?.length ?? 0, MIN_BATCH_BUFFER);
      while (size < need) size *= 2;
      const next = new Uint8Array(size);
      if (batch && this.#batchLen > 0) next.set(batch.subarray(0, this.#batchLen));
      batch = this.#batch = next;
    }
    return batch;
  }

  /** Encodes the queued text at the end of the batch. */
  #encodeText() {
    let text = this.#text;
    this.#text = "";
    this.#texts = 0;
    // At least one byte per UTF-16 unit; more room is made when the text is not ASCII.
    let need = this.#batchLen + text.length;
    if (text.length <= SHORT_TEXT) {
      // A short answer copied in unit by unit instead of an encoder call: ~15 ns instead of ~115 ns
      // (encodeInto) for `pong\n`, in process; the call wins from ~40 units on.
      const batch = this.#reserve(need);
      if (asciiInto(text, batch, this.#batchLen)) {
        this.#batchLen = need;
        return;
      }
    }
    while (true) {
      const batch = this.#reserve(need);
      const { read, written } = encoder.encodeInto(text, batch.subarray(this.#batchLen));
      this.#batchLen += written;
      if (read >= text.length) return;
      text = text.slice(read);
      need = this.#batchLen + 3 * text.length;
    }
  }

  /**
   * Resolves at once while little is queued, else once the writer has taken
   * the batch; rejects if the connection is lost.
   */
  whenTaken(): Promise<void> {
    if (this.#broken) return Promise.reject(this.#lostError);
    if (this.#batchLen + this.#text.length < AHEAD_BYTES) return Promise.resolve();
    return (this.#taken ??= Promise.withResolvers<void>()).promise;
  }

  /** Writes what is queued, batch by batch, until nothing is. */
  async #flush() {
    this.#flushScheduled = false;
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (!this.#broken && (this.#lone !== undefined || this.#batchLen > 0 || this.#text !== "")) {
        let bytes: Uint8Array;
        let written: Uint8Array | undefined;
        let isShared = false;
        if (this.#lone !== undefined) {
          bytes = this.#lone;
          this.#lone = undefined;
        } else if (
          this.#batchLen === 0 && this.#text.length <= SHORT_TEXT && asciiInto(this.#text, shared, 0)
        ) {
          // The answer of a connection with one call at a time: copied unit by unit into the shared
          // buffer, no encoder call and no buffer of its own: ~15 ns instead of ~400 ns
          // (TextEncoder.encode) for `pong\n`, in process.
          bytes = shared.subarray(0, this.#text.length);
          isShared = true;
          this.#text = "";
          this.#texts = 0;
        } else if (this.#texts === 1 && this.#batchLen === 0) {
          // A lone answer in text: encoded on its own, no batch buffer needed. Several go into the
          // batch buffer (a fresh buffer per write cost ~8% of the CPU with 16 pipelined JSON lines).
          bytes = encoder.encode(this.#text);
          this.#text = "";
          this.#texts = 0;
        } else {
          if (this.#text !== "") this.#encodeText();
          written = this.#batch!;
          bytes = written.subarray(0, this.#batchLen);
          // Answers arriving while this is written go to the other buffer.
          this.#batch = this.#spare;
          this.#spare = undefined;
          this.#batchLen = 0;
        }
        this.#queued = 0;
        const taken = this.#taken;
        this.#taken = undefined;
        taken?.resolve();
        // The write loop inline: no promise of a helper's own per write, and no `await` when the
        // socket took the bytes at once (a number back): server CPU per call, 16 strict connections,
        // pinned, 6.6 -> 6.3 us.
        let off = 0;
        while (off < bytes.length) {
          const r = this.#t.write(off === 0 ? bytes : bytes.subarray(off));
          if (typeof r === "number") {
            off += r;
            continue;
          }
          // The socket keeps the shared buffer till the write is done: the others get a new one.
          if (isShared) shared = new Uint8Array(SHORT_TEXT);
          off += await r;
        }
        if (written) {
          // Taken at once, nothing queued meanwhile: the buffer serves the next batch again (the
          // connection keeps one buffer, not two).
          if (this.#batch === undefined && this.#batchLen === 0) this.#batch = written;
          else this.#spare = written;
        }
      }
    } catch (err) {
      this.#onError(err);
    } finally {
      this.#writing = false;
      if (this.#broken) {
        this.#lone = undefined;
        this.#batchLen = 0;
        this.#text = "";
        this.#texts = 0;
        this.#taken?.reject(this.#lostError);
        this.#taken = undefined;
      }
      const flushed = this.#flushed;
      this.#flushed = undefined;
      flushed?.resolve();
      if (!this.#broken && !this.#closed && (this.#batch || this.#spare)) {
        // Set once, not once per write: the alarm finds `#wrote` and waits another period (the
        // buffers go 2 to 4 s after the last write). Setting it read the clock and touched the
        // set of alarms for each answer.
        if (!this.#quietSet) {
          this.#quietSet = true;
          (this.#quiet ??= new Alarm(() => this.#dropIfQuiet())).set(BUFFER_IDLE_MS);
        } else this.#wrote = true;
      }
    }
  }

  #dropIfQuiet() {
    this.#quietSet = false;
    if (this.#wrote) {
      this.#wrote = false;
      this.#quietSet = true;
      this.#quiet!.set(BUFFER_IDLE_MS);
      return;
    }
    if (this.#writing || this.#batchLen > 0) return;
    this.#batch = undefined;
    this.#spare = undefined;
  }

  /** The connection is closing: drop the buffers and stop the alarm that would drop them. */
  close(): void {
    this.#closed = true;
    this.#quiet?.clear();
    this.#quietSet = false;
    this.#batch = undefined;
    this.#spare = undefined;
  }

  /** The session has no call running: drop large batch buffers (an idle connection holds little). */
  trim(): void {
    if ((this.#spare?.length ?? 0) > KEEP_BATCH_BUFFER) this.#spare = undefined;
    if (this.#batchLen === 0 && (this.#batch?.length ?? 0) > KEEP_BATCH_BUFFER) this.#batch = undefined;
  }

  /** Resolves once everything queued has been written (or the connection is lost). */
  async drained(): Promise<void> {
    while (
      !this.#broken && (this.#writing || this.#lone !== undefined || this.#batchLen > 0 || this.#text !== "")
    ) {
      if (!this.#writing) {
        await this.#flush();
        continue;
      }
      await (this.#flushed ??= Promise.withResolvers<void>()).promise;
    }
  }
}

/**
 * Copies `text` into `buf` at `at`, one byte per UTF-16 unit, when every
 * unit is ASCII (the bytes `TextEncoder` makes); false, with `buf` partly
 * written, when one is not.
 */
export function asciiInto(text: string, buf: Uint8Array, at: number): boolean {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return false;
    buf[at + i] = c;
  }
  return true;
}
