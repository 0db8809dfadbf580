/**
 * Answers sent with libc's `send(2)` through FFI, straight onto the
 * connection's descriptor, instead of through the stream handle's
 * `writeBuffer` op (lib/_handle_transport.ts); the handle still writes
 * whatever `send` did not take, and reports every error.
 *
 * `sockd serve` opens libc at start, before it drops the `ffi` permission
 * for good (lib/cli/_idle_memory.ts), and installs its `send` here; without
 * it (the library's `serve()` without the `ffi` permission, a libc other
 * than glibc, another OS) nothing is installed and every write goes through
 * the handle, as before. The call is a V8 fast call (~20 ns with its
 * `BigInt` length); the op it replaces makes the same system call from Rust
 * and costs ~150 ns more per write (stores into the shared stream state,
 * tokio's readiness bookkeeping; 5-byte writes in process: 707 -> 560 ns).
 * What it saves (Deno 2.9.6, 2 shared cores, load 1.1-1.7, interleaved A/B
 * against main, 16 strict connections): with server and client on one CPU
 * as `--pin` runs them, the server's CPU per call 5.51 -> 4.96 µs and the
 * client's 3.25 -> 3.03 µs (likely woken for more answers at a time), medians
 * of 6; the bench's conns-16-haproxy ratio 0.58x -> 0.63x pinned (medians of
 * 6), 0.79x -> 0.83x unpinned (medians of 7). An echo on the bare handle:
 * 3.13 -> 2.89 µs per call.
 *
 * @module
 */

/** libc's `send` as `Deno.dlopen` declares it. */
export const SEND_SYMBOL = {
  parameters: ["i32", "buffer", "usize", "i32"],
  result: "isize",
} as const;

/** libc's `send(fd, buf, len, flags)`, as FFI gives it. */
export type Send = (fd: number, buf: Uint8Array, len: bigint, flags: number) => number | bigint;

/**
 * Linux's `MSG_DONTWAIT | MSG_NOSIGNAL`: never blocks, whatever the
 * descriptor's mode, and a peer gone away is -1 (`EPIPE`), not a SIGPIPE.
 */
const FLAGS = 0x40 | 0x4000;

let send: Send | undefined;

/** Sends through `fn` from now on (libc's `send`); `undefined`: through the handle only. */
export function useDirectSend(fn: Send | undefined): void {
  send = fn;
}

/** Whether a `send` is installed. */
export function directSendInstalled(): boolean {
  return send !== undefined;
}

/**
 * Sends `bytes` on the socket `fd` now, without waiting: the number of bytes
 * the socket took, or -1 when it took none (no `send` installed, the socket
 * is full, or an error: FFI cannot read `errno` portably, so the caller
 * writes the rest through the handle, which tells them apart).
 */
export function sendNow(fd: number, bytes: Uint8Array): number {
  if (send === undefined) return -1;
  return Number(send(fd, bytes, BigInt(bytes.length), FLAGS));
}
