/**
 * Hand-written msgpack for the few small frame shapes on the hot path: a
 * call without input (`{type, id, command, args}`), an `end` with a scalar
 * result, a map of scalars. Anything else (nested maps, non-ASCII or long
 * strings, floats other than float64, 64-bit integers) is left to msgpackr
 * in `codec.ts`: {@linkcode readSmallMap} answers `undefined` and the writers
 * answer -1, and the caller falls back. What these write is what msgpackr
 * writes for the same value (tested byte for byte); what they read, they
 * read as msgpackr would.
 *
 * Why: per small frame, msgpackr's `pack` plus the frame copy, or its
 * `unpack`, cost about 0.5-1 µs (a third of the client's CPU per call with
 * 64 calls in flight); these take well under 0.1 µs and allocate nothing
 * beyond the decoded map.
 *
 * @module
 */

/** Longest string handled here; longer ones go to msgpackr. */
const MAX_STRING = 255;

/**
 * Reads `bytes[start, end)` as one msgpack map whose keys are short ASCII
 * strings and whose values are nil, booleans, 32-bit integers, float64,
 * short ASCII strings or arrays of those; `undefined` for anything else
 * (including malformed input, which msgpackr then reports).
 */
export function readSmallMap(
  bytes: Uint8Array,
  start: number,
  end: number,
): Record<string, unknown> | undefined {
  if (start >= end) return undefined;
  const head = bytes[start]!;
  if (head < 0x80 || head > 0x8f) return undefined;
  const reader: Reader = { bytes, pos: start + 1, end };
  const out: Record<string, unknown> = {};
  for (let i = head - 0x80; i > 0; i--) {
    const key = readValue(reader);
    // "__proto__" would set the prototype: msgpackr renames it, so leave it to msgpackr.
    if (typeof key !== "string" || key === "__proto__") return undefined;
    const value = readValue(reader, true);
    if (value === FAIL) return undefined;
    out[key] = value;
  }
  return reader.pos === end ? out : undefined;
}

interface Reader {
  bytes: Uint8Array;
  pos: number;
  end: number;
}

const FAIL = Symbol("not handled here");

function readValue(r: Reader, arrays = false): unknown {
  const { bytes, end } = r;
  if (r.pos >= end) return FAIL;
  const b = bytes[r.pos++]!;
  if (b < 0x80) return b;
  if (b >= 0xe0) return b - 0x100;
  if (b >= 0xa0 && b <= 0xbf) return readAscii(r, b - 0xa0);
  if (arrays && b >= 0x90 && b <= 0x9f) {
    const list: unknown[] = [];
    for (let i = b - 0x90; i > 0; i--) {
      const item = readValue(r);
      if (item === FAIL) return FAIL;
      list.push(item);
    }
    return list;
  }
  const p = r.pos;
  switch (b) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xcc:
      return p + 1 > end ? FAIL : (r.pos = p + 1, bytes[p]!);
    case 0xcd:
      return p + 2 > end ? FAIL : (r.pos = p + 2, (bytes[p]! << 8) | bytes[p + 1]!);
    case 0xce:
      return p + 4 > end ? FAIL : (r.pos = p + 4, u32(bytes, p));
    case 0xd0:
      return p + 1 > end ? FAIL : (r.pos = p + 1, (bytes[p]! << 24) >> 24);
    case 0xd1:
      return p + 2 > end ? FAIL : (r.pos = p + 2, (((bytes[p]! << 8) | bytes[p + 1]!) << 16) >> 16);
    case 0xd2:
      return p + 4 > end ? FAIL : (r.pos = p + 4, u32(bytes, p) | 0);
    case 0xcb:
      return p + 8 > end
        ? FAIL
        : (r.pos = p + 8, new DataView(bytes.buffer, bytes.byteOffset + p, 8).getFloat64(0));
    case 0xd9:
      return p + 1 > end ? FAIL : (r.pos = p + 1, readAscii(r, bytes[p]!));
  }
  return FAIL;
}

function u32(bytes: Uint8Array, p: number): number {
  return ((bytes[p]! << 24) >>> 0) + (bytes[p + 1]! << 16) + (bytes[p + 2]! << 8) + bytes[p + 3]!;
}

function readAscii(r: Reader, length: number): string | typeof FAIL {
  const { bytes, pos } = r;
  const stop = pos + length;
  if (stop > r.end) return FAIL;
  let s = "";
  for (let i = pos; i < stop; i++) {
    const c = bytes[i]!;
    if (c >= 0x80) return FAIL;
    s += String.fromCharCode(c);
  }
  r.pos = stop;
  return s;
}

/** Key bytes, as msgpackr writes them (fixstr). */
function key(name: string): Uint8Array {
  return new Uint8Array([0xa0 + name.length, ...[...name].map((c) => c.charCodeAt(0))]);
}

const CALL_HEAD = new Uint8Array([...key("type"), ...key("call"), ...key("id")]);
const COMMAND = key("command");
const ARGS = key("args");
const TIMEOUT = key("timeout");
const END_HEAD = new Uint8Array([0x84, ...key("type"), ...key("end"), ...key("id")]);
const STATUS_OK_RESULT = new Uint8Array([...key("status"), 0x00, ...key("result")]);

/**
 * Writes the frame of `{type: "call", id, command, args, timeout?}` (length
 * prefix included) into `out` at `off`; returns the offset after it, or -1
 * when it does not fit in `out` or is not a shape handled here.
 */
export function writeCallFrame(
  out: Uint8Array,
  off: number,
  id: number,
  command: string,
  args: readonly string[],
  timeout: number | undefined,
): number {
  const start = off;
  off += 4;
  if (off + 1 + CALL_HEAD.length > out.length) return -1;
  out[off++] = timeout === undefined ? 0x84 : 0x85;
  out.set(CALL_HEAD, off);
  off = writeUint(out, off + CALL_HEAD.length, id);
  if (off < 0 || off + COMMAND.length > out.length) return -1;
  out.set(COMMAND, off);
  off = writeAscii(out, off + COMMAND.length, command);
  if (off < 0 || off + ARGS.length + 3 > out.length || args.length >= 0x10000) return -1;
  out.set(ARGS, off);
  off += ARGS.length;
  if (args.length < 16) out[off++] = 0x90 + args.length;
  else {
    out[off] = 0xdc;
    out[off + 1] = args.length >> 8;
    out[off + 2] = args.length & 0xff;
    off += 3;
  }
  for (let i = 0; i < args.length && off >= 0; i++) off = writeAscii(out, off, args[i]!);
  if (off >= 0 && timeout !== undefined) {
    if (off + TIMEOUT.length > out.length) return -1;
    out.set(TIMEOUT, off);
    off = writeUint(out, off + TIMEOUT.length, timeout);
  }
  if (off < 0) return -1;
  writeLength(out, start, off - start - 4);
  return off;
}

/**
 * The frame of `{type: "end", id, status: 0, result}` when `id` is a
 * 32-bit unsigned integer or short ASCII string and `result` is undefined,
 * null, a boolean, a 32-bit unsigned integer or a short ASCII string;
 * otherwise undefined.
 */
export function endFrame(id: number | string, result: unknown): Uint8Array | undefined {
  const room = 4 + END_HEAD.length + bound(id) + STATUS_OK_RESULT.length + bound(result);
  const out = new Uint8Array(room);
  out.set(END_HEAD, 4);
  let off = 4 + END_HEAD.length;
  off = typeof id === "number" ? writeUint(out, off, id) : writeAscii(out, off, id);
  if (off < 0) return undefined;
  out.set(STATUS_OK_RESULT, off);
  off += STATUS_OK_RESULT.length;
  if (result === undefined || result === null) out[off++] = 0xc0;
  else if (result === true || result === false) out[off++] = result ? 0xc3 : 0xc2;
  else if (typeof result === "number") off = writeUint(out, off, result);
  else if (typeof result === "string") off = writeAscii(out, off, result);
  else return undefined;
  if (off < 0) return undefined;
  writeLength(out, 0, off - 4);
  return off === room ? out : out.subarray(0, off);
}

/** The most bytes {@linkcode writeUint} or {@linkcode writeAscii} write for `v` (0 when they will refuse it). */
function bound(v: unknown): number {
  return typeof v === "string" ? (v.length > MAX_STRING ? 0 : v.length + 2) : 5;
}

function writeLength(out: Uint8Array, at: number, size: number) {
  out[at] = size >>> 24;
  out[at + 1] = (size >>> 16) & 0xff;
  out[at + 2] = (size >>> 8) & 0xff;
  out[at + 3] = size & 0xff;
}

/** Writes a non-negative integer below 2^32 as msgpackr does; -1 if it is not one or does not fit. */
function writeUint(out: Uint8Array, off: number, n: number): number {
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
    writeLength(out, off, n);
    off += 4;
  }
  return off;
}

/** Writes an ASCII string of up to {@linkcode MAX_STRING} chars; -1 if it is not one or does not fit. */
function writeAscii(out: Uint8Array, off: number, s: string): number {
  const n = s.length;
  if (n > MAX_STRING || off + 2 + n > out.length) return -1;
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
