/**
 * The byte stream a session serves.
 *
 * @module
 */

/**
 * A byte stream: a `Deno.Conn` (see `connTransport`), or an in-memory pair
 * in tests. `read` resolves to null at end-of-file, which must leave the
 * write side open (the client half-closed and waits for its answers).
 */
export interface Transport {
  /** Reads into `buf`; resolves with the bytes read, or null at end-of-file. */
  read(buf: Uint8Array): Promise<number | null>;
  /**
   * Writes some of `bytes`; resolves with how many. A transport that knows
   * the socket took them at once may return the count itself (the handle
   * transport does, for most answers): a caller that checks for a number
   * skips an `await` per write (~0.3 of 6.6 µs of server CPU per call with 16
   * strict connections, measured with the batch writer doing so).
   */
  write(bytes: Uint8Array): number | Promise<number>;
  /** Closes both directions; a pending read then rejects or ends. */
  close(): void;
  /**
   * For a transport that can move to another process (a `node:net` socket):
   * ends a pending `read` with 0 bytes taken.
   */
  interrupt?(): void;
  /** Stops reading for good and returns the bytes received but not read (see `NodeSocketTransport`). */
  detach?(): Uint8Array;
}
