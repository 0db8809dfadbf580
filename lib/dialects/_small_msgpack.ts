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
 * Why: with 64 calls in flight, msgpackr's `pack` and `unpack` of these
 * frames were about a third of the client's CPU per call and a quarter of
 * the server's. Measured in one process (`deno task bench:micro`,
 * small_msgpack_bench.ts; shared 2-core machine): reading a call 380 -> 67 ns, an OK
 * end 380 -> 64 ns; writing an end 320 -> 74 ns; a call is written straight
 * into the client's batch buffer (no frame allocated, no copy) in ~45 ns.
 *
 * @module
 */

import {
  ARRAY,
  fixstr as key,
  MAX_ASCII,
  readI16,
  readI8,
  readU16,
  readU32,
  writeAscii,
  writeHead,
  writeU32,
  writeUint,
} from "./_msgpack_bytes.ts";

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

/** A call frame as {@linkcode readCallFrame} reads it. */
export interface CallFields {
  id: number | string;
  command: string;
  args: string[];
  input: boolean;
  timeout: number | undefined;
}

/**
 * Reads `{type: "call", id, command, args, input?, timeout?}` in that key
 * order (what sockd's client writes) with an integer or short ASCII id,
 * short ASCII strings, a boolean input and an unsigned integer timeout;
 * undefined for anything else (msgpackr and the dialect's checks then
 * decide). Matching the keys as bytes and making the object whole halves
 * the cost of {@linkcode readSmallMap} for this frame.
 */
export function readCallFrame(bytes: Uint8Array, start: number, end: number): CallFields | undefined {
  const head = bytes[start]!;
  if (start >= end || head < 0x84 || head > 0x86) return undefined;
  const r: Reader = { bytes, pos: start + 1, end };
  if (!skip(r, CALL_HEAD)) return undefined;
  const id = readValue(r);
  if (typeof id !== "number" && typeof id !== "string" || !skip(r, COMMAND)) return undefined;
  const command = readValue(r);
  if (typeof command !== "string" || !skip(r, ARGS)) return undefined;
  const args = readValue(r, true);
  if (!Array.isArray(args)) return undefined;
  for (const a of args) if (typeof a !== "string") return undefined;
  let input = false;
  let timeout: number | undefined;
  let left = head - 0x84;
  if (left > 0 && skip(r, INPUT)) {
    const v = readValue(r);
    if (typeof v !== "boolean") return undefined;
    input = v;
    left--;
  }
  if (left > 0) {
    if (!skip(r, TIMEOUT)) return undefined;
    const v = readValue(r);
    if (typeof v !== "number" || v < 0) return undefined;
    timeout = v;
    left--;
  }
  return left === 0 && r.pos === end ? { id, command, args, input, timeout } : undefined;
}

/**
 * Reads `{type: "end", id, status: 0, result}` (an OK end, as the server
 * writes it) with an integer id and a scalar result; undefined for anything
 * else.
 */
export function readOkEnd(
  bytes: Uint8Array,
  start: number,
  end: number,
): { id: number; result: unknown } | undefined {
  const r: Reader = { bytes, pos: start, end };
  if (!skip(r, END_HEAD)) return undefined;
  const id = readValue(r);
  if (typeof id !== "number" || !skip(r, STATUS_OK_RESULT)) return undefined;
  const result = readValue(r);
  return result !== FAIL && r.pos === end ? { id, result } : undefined;
}

/** Steps over `expected` if the bytes at the reader's position are exactly it. */
function skip(r: Reader, expected: Uint8Array): boolean {
  const { bytes, pos } = r;
  if (pos + expected.length > r.end) return false;
  for (let i = 0; i < expected.length; i++) if (bytes[pos + i] !== expected[i]) return false;
  r.pos = pos + expected.length;
  return true;
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
      return p + 2 > end ? FAIL : (r.pos = p + 2, readU16(bytes, p));
    case 0xce:
      return p + 4 > end ? FAIL : (r.pos = p + 4, readU32(bytes, p));
    case 0xd0:
      return p + 1 > end ? FAIL : (r.pos = p + 1, readI8(bytes, p));
    case 0xd1:
      return p + 2 > end ? FAIL : (r.pos = p + 2, readI16(bytes, p));
    case 0xd2:
      return p + 4 > end ? FAIL : (r.pos = p + 4, readU32(bytes, p) | 0);
    case 0xcb:
      return p + 8 > end
        ? FAIL
        : (r.pos = p + 8, new DataView(bytes.buffer, bytes.byteOffset + p, 8).getFloat64(0));
    case 0xd9:
      return p + 1 > end ? FAIL : (r.pos = p + 1, readAscii(r, bytes[p]!));
  }
  return FAIL;
}

/** Strings up to this long are looked up in {@linkcode STRINGS} before one is made. */
const CACHED_STRING = 32;
/**
 * The short strings read last, by a hash of their bytes: keys, types and
 * command names repeat in every frame, and finding one here (a hash and a
 * compare) costs a fraction of building it a character at a time.
 */
const STRINGS: (string | undefined)[] = new Array(512);

function readAscii(r: Reader, length: number): string | typeof FAIL {
  const { bytes, pos } = r;
  const stop = pos + length;
  if (stop > r.end) return FAIL;
  let h = length;
  for (let i = pos; i < stop; i++) {
    const c = bytes[i]!;
    if (c >= 0x80) return FAIL;
    h = (h * 31 + c) | 0;
  }
  r.pos = stop;
  if (length > CACHED_STRING) {
    return String.fromCharCode.apply(null, bytes.subarray(pos, stop) as unknown as number[]);
  }
  const slot = h & (STRINGS.length - 1);
  const seen = STRINGS[slot];
  if (seen !== undefined && seen.length === length) {
    let i = 0;
    while (i < length && seen.charCodeAt(i) === bytes[pos + i]) i++;
    if (i === length) return seen;
  }
  let s = "";
  for (let i = pos; i < stop; i++) s += String.fromCharCode(bytes[i]!);
  STRINGS[slot] = s;
  return s;
}

const CALL_HEAD = new Uint8Array([...key("type"), ...key("call"), ...key("id")]);
const COMMAND = key("command");
const ARGS = key("args");
const TIMEOUT = key("timeout");
const INPUT = key("input");
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
  off = put(out, off, CALL_HEAD);
  off = writeUint(out, off, id);
  if (off < 0 || off + COMMAND.length > out.length) return -1;
  off = writeAscii(out, put(out, off, COMMAND), command);
  if (off < 0 || off + ARGS.length + 3 > out.length || args.length >= 0x10000) return -1;
  off = put(out, off, ARGS);
  off = writeHead(out, off, ARRAY, args.length);
  for (let i = 0; i < args.length && off >= 0; i++) off = writeAscii(out, off, args[i]!);
  if (off >= 0 && timeout !== undefined) {
    if (off + TIMEOUT.length > out.length) return -1;
    off = writeUint(out, put(out, off, TIMEOUT), timeout);
  }
  if (off < 0) return -1;
  writeU32(out, start, off - start - 4);
  return off;
}

/**
 * The frame of `{type: "end", id, status: 0, result}` when `id` is a
 * 32-bit unsigned integer or short ASCII string and `result` is undefined,
 * null, a boolean, a 32-bit unsigned integer or a short ASCII string;
 * otherwise undefined.
 */
export function endFrame(id: number | string, result: unknown): Uint8Array | undefined {
  const room = endFrameBound(id, result);
  if (slab.length - slabUsed < room) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  const start = slabUsed;
  const end = writeEndFrame(slab, start, id, result);
  if (end < 0) return undefined;
  slabUsed = end;
  return slab.subarray(start, end);
}

/** The most bytes {@linkcode writeEndFrame} writes for `id` and `result`. */
export function endFrameBound(id: number | string, result: unknown): number {
  return 4 + END_HEAD.length + bound(id) + STATUS_OK_RESULT.length + bound(result);
}

/**
 * Writes the frame {@linkcode endFrame} makes into `out` at `start` (which
 * must have {@linkcode endFrameBound} bytes of room there); returns the
 * offset after it, or -1 for an id or result not handled here (the bytes
 * from `start` on are then garbage).
 */
export function writeEndFrame(out: Uint8Array, start: number, id: number | string, result: unknown): number {
  let off = start + 4;
  off = put(out, off, END_HEAD);
  off = typeof id === "number" ? writeUint(out, off, id) : writeAscii(out, off, id);
  if (off < 0) return -1;
  off = put(out, off, STATUS_OK_RESULT);
  if (result === undefined || result === null) out[off++] = 0xc0;
  else if (result === true || result === false) out[off++] = result ? 0xc3 : 0xc2;
  else if (typeof result === "number") off = writeUint(out, off, result);
  else if (typeof result === "string") off = writeAscii(out, off, result);
  else return -1;
  if (off < 0) return -1;
  writeU32(out, start, off - start - 4);
  return off;
}

/**
 * Frames made by {@linkcode endFrame} are cut from a shared slab, never
 * written again once handed out (a fresh slab replaces a full one): a
 * `new Uint8Array` per frame cost ~350 ns here, a view of the slab ~50 ns.
 */
const SLAB_BYTES = 16 * 1024;
let slab = new Uint8Array(SLAB_BYTES);
let slabUsed = 0;

/** The most bytes {@linkcode writeUint} or {@linkcode writeAscii} write for `v` (0 when they will refuse it). */
function bound(v: unknown): number {
  return typeof v === "string" ? (v.length > MAX_ASCII ? 0 : v.length + 2) : 5;
}

/** Copies the few bytes of `bytes` to `out` at `off`; returns the offset after them. (A loop: `set` costs more for so few.) */
function put(out: Uint8Array, off: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) out[off++] = bytes[i]!;
  return off;
}
