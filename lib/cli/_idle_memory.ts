/**
 * `sockd serve` gives memory back when it goes quiet: once when it is ready
 * (what loading left behind), and after a connection opens or closes, once
 * no call has run for 2 s, if RSS has grown by a MiB since the last time. So
 * a burst of connections costs one collection, calls that keep coming none,
 * and a server that grows by nothing collects nothing.
 *
 * Quiet is 2 s, not less: the calls right after a collection run slower (V8
 * recompiles, its young generation regrows). Collecting in the 300 ms gaps
 * between bursts of 16 connections took their throughput from 44–46k to
 * 33–36k calls/s; waiting for 1 s of quiet (so not in those gaps) left it at
 * 44–46k. And collections take at most 1% of the time in the long run: each
 * ms one takes is paid back by 100 ms of wall time, with up to 200 ms of
 * credit, so that a few in a row (start, connections opening, then closing)
 * are not held back.
 *
 * Neither half happens by itself in an idle Deno 2.9 process:
 *
 * - V8 collects only when allocating, and its memory reducer (which would
 *   shrink the heap of an idle isolate) runs on a delayed platform task that
 *   an event loop asleep in epoll never runs. So the collection is asked
 *   for: V8's `gc`, exposed at run time (`node:v8` `setFlagsFromString` and
 *   a context made after it, as in Node), in its "last resort" flavour: the
 *   memory-reducing collections that also release V8's pooled pages.
 * - What Deno's Rust side and V8's C++ side free stays in glibc's arenas
 *   (the JavaScript thread has its own arena, which glibc only trims from
 *   its top). `malloc_trim(0)` returns the free pages of every arena; it is
 *   reached through FFI, opened at start, after which the `ffi` permission is
 *   dropped for good. Deno calls the same function after loading the main
 *   module and on SIGUSR2 with `DENO_USR2_MEMORY_TRIM` set, but SIGUSR2 is
 *   sockd's upgrade signal.
 *
 * Measured (Deno 2.9.6, 2 cores, the bench's closed-memory row): after 1,000
 * idle connections (one text `ping` each) closed, RSS kept 19.8–20.5 MiB of
 * the 18–19 MiB they added; now it keeps 1.1–1.8 MiB of ~21 MiB (the rest is
 * the deno binary's code those connections ran, mapped once). A collection
 * takes 15–40 ms of the JavaScript thread.
 *
 * @module
 */
import type { Logger } from "../log.ts";

/** V8's `gc` with its options (V8's gc extension). */
type V8Gc = (options: { type: "major"; execution: "sync"; flavor: "last-resort" }) => void;

/** How the server's memory goes back: either half may be missing (another OS, another libc). */
export interface Reclaim {
  /** A full, memory-reducing collection of the JavaScript heap. */
  gc?: () => void;
  /** glibc's `malloc_trim(0)`, run off the JavaScript thread. */
  trim?: () => Promise<void>;
}

/**
 * The reclaim functions of this process. Call it once, early: it drops the
 * `ffi` permission (after opening libc, when it may).
 */
export async function reclaimFunctions(): Promise<Reclaim> {
  return { gc: await v8Gc(), trim: mallocTrim() };
}

async function v8Gc(): Promise<(() => void) | undefined> {
  const exposed = (globalThis as { gc?: V8Gc }).gc;
  let gc: V8Gc | undefined = typeof exposed === "function" ? exposed : undefined;
  if (!gc) {
    try {
      const [{ setFlagsFromString }, { runInNewContext }] = await Promise.all([
        import("node:v8"),
        import("node:vm"),
      ]);
      // Only contexts made after the flag have `gc`; it stays usable from here.
      setFlagsFromString("--expose-gc");
      const fn = runInNewContext("gc");
      if (typeof fn === "function") gc = fn as V8Gc;
    } catch {
      // No way to ask for a collection: V8 collects when it allocates.
    }
  }
  return gc && (() => gc({ type: "major", execution: "sync", flavor: "last-resort" }));
}

function mallocTrim(): (() => Promise<void>) | undefined {
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return undefined;
  try {
    if (Deno.build.os !== "linux") return undefined;
    // Nonblocking: Deno runs it on a thread of its own, and a blocking symbol's fast-call trampoline
    // would map ~1.3 MiB more of the deno binary's code (measured: 61.1 against 59.5 MiB idle).
    const libc = Deno.dlopen("libc.so.6", {
      malloc_trim: { parameters: ["usize"], result: "i32", nonblocking: true },
    });
    return async () => void await libc.symbols.malloc_trim(0n);
  } catch {
    // Not glibc (musl has no malloc_trim): freed memory stays with the allocator.
    return undefined;
  } finally {
    // The library is open; nothing else in the server loads native code.
    Deno.permissions.revokeSync({ name: "ffi" });
  }
}

/** Options of {@linkcode IdleMemory}. */
export interface IdleMemoryOptions {
  /** The calls running now, and those ended so far: quiet is neither changing for `delayMs`. */
  calls: () => { inFlight: number; ended: number };
  reclaim: Reclaim;
  logger: Logger;
  /** How long without a call is quiet (ms). @default {2000} */
  delayMs?: number;
  /** How much RSS must have grown since the last collection (bytes). @default {1 MiB} */
  minGrowth?: number;
  /** The process's RSS in bytes (tests pass their own). */
  rss?: () => number;
}

/** The most collection time (ms) the 1% budget saves up. */
const CREDIT_MS = 200;

/** Collects when the server is quiet a moment after a connection came or went, if it has grown since the last time. */
export class IdleMemory {
  #o: Required<IdleMemoryOptions>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** RSS after the last collection; 0 before the first. */
  #floor = 0;
  /** Collection time (ms) the 1% budget allows now; it grows by 1 ms per 100 ms, up to {@linkcode CREDIT_MS}. */
  #credit = CREDIT_MS;
  #creditAt = performance.now();
  #collections = 0;
  #busy = false;
  /** `calls().ended` at the last look that saw calls end (or at the start of the wait). */
  #ended = -1;
  /** When the quiet began: the last look that saw a call run or end. */
  #quietFrom = 0;

  constructor(options: IdleMemoryOptions) {
    this.#o = {
      delayMs: 2000,
      minGrowth: 1024 * 1024,
      rss: () => Deno.memoryUsage().rss,
      ...options,
    };
  }

  /** Collections made so far. */
  get collections(): number {
    return this.#collections;
  }

  /** A connection opened or closed (or the server is ready): collect once quiet. */
  changed(): void {
    if (!this.#o.reclaim.gc && !this.#o.reclaim.trim) return;
    this.#wait();
  }

  /**
   * Quiet starts over now; looks again in an eighth of the delay, and once no call ran since, when
   * the delay has passed. Quiet is timed from the first look that saw no call end, so the collection
   * comes at most an eighth of the delay late. It used to look again a whole delay after a look that
   * saw calls end: 1,000 connections that each made a call were collected ~4 s after the last one,
   * not 2 (the bench's idle-memory-haproxy row, read after 3 s, got 18.4 KiB/conn, not 6.4).
   */
  #wait() {
    this.#ended = this.#o.calls().ended;
    this.#quietFrom = performance.now();
    this.#arm(this.#o.delayMs / 8);
  }

  #arm(ms: number) {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#check(), ms);
    // A pending collection never keeps a stopping server alive.
    Deno.unrefTimer(this.#timer);
  }

  /** Adds what the time since the last refill earned to the credit; returns now. */
  #refill(): number {
    const now = performance.now();
    this.#credit = Math.min(CREDIT_MS, this.#credit + (now - this.#creditAt) / 100);
    this.#creditAt = now;
    return now;
  }

  /** Stops the pending check. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #check() {
    this.#timer = undefined;
    if (this.#busy) return;
    const calls = this.#o.calls();
    if (calls.inFlight > 0 || calls.ended !== this.#ended) {
      // Not quiet: look again (8 timers per delay while calls come, only after a connection came or went).
      this.#wait();
      return;
    }
    const left = this.#quietFrom + this.#o.delayMs - performance.now();
    if (left > 0) return this.#arm(left);
    if (this.#o.rss() - this.#floor < this.#o.minGrowth) return;
    this.#refill();
    if (this.#credit <= 0) {
      this.#arm(-this.#credit * 100 + 1);
      return;
    }
    await this.collect();
  }

  /** Collects now (`sockd serve` does once it is ready: what loading left behind). */
  async collect(): Promise<void> {
    if (this.#busy || (!this.#o.reclaim.gc && !this.#o.reclaim.trim)) return;
    const before = this.#o.rss();
    const start = this.#refill();
    this.#busy = true;
    try {
      this.#o.reclaim.gc?.();
      await this.#o.reclaim.trim?.();
    } catch (err) {
      this.#o.logger.debug("Idle: giving memory back failed", { error: String(err) });
    } finally {
      this.#busy = false;
    }
    this.#floor = this.#o.rss();
    this.#collections++;
    this.#credit -= this.#refill() - start;
    this.#o.logger.debug("Idle: gave memory back", {
      rssMiB: round(this.#floor),
      freedMiB: round(before - this.#floor),
      ms: Math.round((performance.now() - start) * 10) / 10,
    });
  }
}

function round(bytes: number): number {
  return Math.round(bytes / 1024 / 102.4) / 10;
}
