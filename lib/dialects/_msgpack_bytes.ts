/**
 * The byte-level pieces of msgpack that sockd writes and reads by hand:
 * the preface, big-endian integers, the smallest header for a string, bin,
 * array or map of a given size, integers and short ASCII strings as msgpackr
 * writes them, and the checks of a decoded frame. Shared by the server's
 * dialect and client (lib/dialects/msgpack.ts, _small_msgpack.ts) and the
 * one-shot `sockd call` (lib/cli/_msgpack_lite.ts).
 *
 * It imports nothing from npm or `node:`, and must not: the one-shot call
 * loads it, and the first such import of a process starts Deno's Node
 * compatibility, ~7 ms of a cold call (tests/cli/call_fast_test.ts checks).
 *
 * @module
 */
import { SockdError, Status } from "../errors.ts";

/** What a msgpack client sends first: NUL, "SOCKD", NUL, protocol version 1 (PROTOCOL.md). */
export const PREFACE: Uint8Array = new Uint8Array([0x00, 0x53, 0x4f, 0x43, 0x4b, 0x44, 0x00, 0x01]);

/** The bytes of `name` as a fixstr (ASCII, under 32 characters): how msgpackr writes a map key. */
export function fixstr(name: string): Uint8Array {
  return new Uint8Array([0xa0 + name.length, ...[...name].map((c) => c.charCodeAt(0))]);
}

/** The big-endian unsigned 16-bit integer at `bytes[p]`. */
export function readU16(bytes: Uint8Array, p: number): number {
  return (bytes[p]! << 8) | bytes[p + 1]!;
}

/** The big-endian unsigned 32-bit integer at `bytes[p]`. */
export function readU32(bytes: Uint8Array, p: number): number {
  return ((bytes[p]! << 24) >>> 0) + (bytes[p + 1]! << 16) + (bytes[p + 2]! << 8) + bytes[p + 3]!;
}

/** The signed 8-bit integer at `bytes[p]`. */
export function readI8(bytes: Uint8Array, p: number): number {
  return (bytes[p]! << 24) >> 24;
}

/** The big-endian signed 16-bit integer at `bytes[p]`. */
export function readI16(bytes: Uint8Array, p: number): number {
  return (((bytes[p]! << 8) | bytes[p + 1]!) << 16) >> 16;
}

/** Writes `n` (below 2^32) big-endian in 4 bytes at `out[at]`: a frame's length, a u32 field. */
export function writeU32(out: Uint8Array, at: number, n: number): void {
  out[at] = n >>> 24;
  out[at + 1] = (n >>> 16) & 0xff;
  out[at + 2] = (n >>> 8) & 0xff;
  out[at + 3] = n & 0xff;
}

/** A header kind for {@linkcode writeHead}: its fix form, the 8-bit form (0: none) and the 16-bit one (+1: 32-bit). */
export interface HeadKind {
  /** First byte of the fix form; 0 with `fixBelow` 0 when there is none. */
  fix: number;
  /** Sizes below this take the fix form. */
  fixBelow: number;
  /** The 8-bit size form's byte, or 0. */
  c8: number;
  /** The 16-bit size form's byte; the 32-bit one is the next. */
  c16: number;
}

/** Strings: fixstr, str 8, str 16, str 32. */
export const STR: HeadKind = { fix: 0xa0, fixBelow: 32, c8: 0xd9, c16: 0xda };
/** Bytes: bin 8, bin 16, bin 32. */
export const BIN: HeadKind = { fix: 0, fixBelow: 0, c8: 0xc4, c16: 0xc5 };
/** Arrays: fixarray, array 16, array 32. */
export const ARRAY: HeadKind = { fix: 0x90, fixBelow: 16, c8: 0, c16: 0xdc };
/** Maps: fixmap, map 16, map 32. */
export const MAP: HeadKind = { fix: 0x80, fixBelow: 16, c8: 0, c16: 0xde };

/** How many bytes {@linkcode writeHead} writes for `n`. */
export function headBytes(kind: HeadKind, n: number): number {
  return n < kind.fixBelow ? 1 : kind.c8 !== 0 && n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/**
 * Writes the smallest header of `kind` for `n` items or bytes at `out[off]`
 * (as msgpackr picks it); returns the offset after it. The caller makes
 * room ({@linkcode headBytes}).
 */
export function writeHead(out: Uint8Array, off: number, kind: HeadKind, n: number): number {
  if (n < kind.fixBelow) {
    out[off] = kind.fix | n;
    return off + 1;
  }
  if (kind.c8 !== 0 && n < 0x100) {
    out[off] = kind.c8;
    out[off + 1] = n;
    return off + 2;
  }
  if (n < 0x10000) {
    out[off] = kind.c16;
    out[off + 1] = n >> 8;
    out[off + 2] = n & 0xff;
    return off + 3;
  }
  out[off] = kind.c16 + 1;
  writeU32(out, off + 1, n);
  return off + 5;
}

/** Writes a non-negative integer below 2^32 as msgpackr does; -1 if it is not one or does not fit. */
export function writeUint(out: Uint8Array, off: number, n: number): number {
  if (!(n >= 0 && n < 0x100000000 && Number.isInteger(n)) || off + 5 > out.length) return -1;
  if (n < 0x80) out[off++] = n;
  else if (n < 0x100) {
    out[off++] = 0xcc;
    out[off++] = n;
  } else if (n < 0x10000) {
    out[off++] = 0xcd;
    out[off++] = n >> 8;
    out[off++] = n & 0xff;
  } else {
    out[off++] = 0xce;
    writeU32(out, off, n);
    off += 4;
  }
  return off;
}

/**
 * Writes an integer from -2^31 to 2^32 - 1 in the smallest form, as
 * msgpackr does; -1 if it is not one or does not fit.
 */
export function writeInt(out: Uint8Array, off: number, n: number): number {
  if (n >= 0) return writeUint(out, off, n);
  if (!(n >= -0x80000000 && Number.isInteger(n)) || off + 5 > out.length) return -1;
  if (n >= -32) out[off++] = n & 0xff;
  else if (n >= -0x80) {
    out[off++] = 0xd0;
    out[off++] = n & 0xff;
  } else if (n >= -0x8000) {
    out[off++] = 0xd1;
    out[off++] = (n >> 8) & 0xff;
    out[off++] = n & 0xff;
  } else {
    out[off++] = 0xd2;
    writeU32(out, off, n >>> 0);
    off += 4;
  }
  return off;
}

/** Longest string {@linkcode writeAscii} writes. */
export const MAX_ASCII = 255;

/** Writes an ASCII string of up to {@linkcode MAX_ASCII} chars; -1 if it is not one or does not fit. */
export function writeAscii(out: Uint8Array, off: number, s: string): number {
  if (typeof s !== "string") return -1; // JavaScript callers may pass anything: msgpackr writes it as it is
  const n = s.length;
  if (n > MAX_ASCII || off + 2 + n > out.length) return -1;
  if (n < 32) out[off++] = 0xa0 + n;
  else {
    out[off++] = 0xd9;
    out[off++] = n;
  }
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return -1;
    out[off++] = c;
  }
  return off;
}

/**
 * A frame body decoded by `decode`, checked to be a map: otherwise, or when
 * `decode` throws, BAD_REQUEST with the dialect's words.
 */
export function frameMap(body: Uint8Array, decode: (body: Uint8Array) => unknown): Record<string, unknown> {
  let value: unknown;
  try {
    value = decode(body);
  } catch (err) {
    throw new SockdError(
      Status.BAD_REQUEST,
      `Undecodable msgpack frame: ${err instanceof Error ? err.message : err}`,
    );
  }
  if (!value || typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) {
    throw new SockdError(Status.BAD_REQUEST, "A frame must be a msgpack map with a type field");
  }
  return value as Record<string, unknown>;
}
