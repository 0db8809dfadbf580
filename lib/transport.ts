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
  /** Writes some of `bytes`; resolves with how many. */
  write(bytes: Uint8Array): Promise<number>;
  /** Closes both directions; a pending read then rejects or ends. */
  close(): void;
}
