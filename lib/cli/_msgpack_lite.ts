/**
 * The msgpack of a one-shot `sockd call`, without msgpackr: the first npm
 * import of a process brings up Deno's Node compatibility layer, ~7 ms of a
 * cold call (docs/PERFORMANCE.md). It writes the few frames a client sends
 * and reads whatever lib/codec.ts writes, to the same values msgpackr's
 * `Unpackr` (as lib/codec.ts configures it) reads from them;
 * tests/cli/msgpack_lite_test.ts holds it to both. Everything else keeps
 * lib/codec.ts.
 *
 * @module
 */
import {
  ARRAY,
  BIN,
  frameMap,
  MAP,
  readI16,
  readI8,
  readU16,
  readU32,
  STR,
  writeHead,
  writeInt,
  writeU32,
} from "../dialects/_msgpack_bytes.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * One frame (4-byte big-endian length, then the body) of a message made of
 * maps, arrays, strings, bytes, numbers, booleans and null; after `before`
 * (the connection's preface, sent with the first frame), when given.
 *
 * @example
 * ```ts
 * import { encodeFrame } from "./_msgpack_lite.ts";
 * const frame = encodeFrame({ type: "cancel", id: 1 });
 * console.assert(frame.length === 4 + 17 && frame[4] === 0x82);
 * const first = encodeFrame({ type: "cancel", id: 1 }, new Uint8Array([0, 0x53]));
 * console.assert(first.length === 2 + 4 + 17 && first[1] === 0x53 && first[6] === 0x82);
 * ```
 */
export function encodeFrame(message: Record<string, unknown>, before?: Uint8Array): Uint8Array {
  const head = before?.length ?? 0;
  const out: Out = { bytes: new Uint8Array(256), off: head + 4 };
  if (before) room(out, 0).set(before);
  write(message, out);
  writeU32(out.bytes, head, out.off - head - 4);
  return out.bytes.subarray(0, out.off);
}

/** A frame being written: its bytes so far and where the next goes. */
interface Out {
  bytes: Uint8Array;
  off: number;
}

/** Makes room for `n` more bytes in `out`. */
function room(out: Out, n: number): Uint8Array {
  if (out.off + n > out.bytes.length) {
    const grown = new Uint8Array(Math.max(out.bytes.length * 2, out.off + n));
    grown.set(out.bytes.subarray(0, out.off));
    out.bytes = grown;
  }
  return out.bytes;
}

/** Writes `bytes` after a header of `kind` for their length. */
function writeSized(out: Out, kind: typeof STR, bytes: Uint8Array): void {
  const b = room(out, 5 + bytes.length);
  const at = writeHead(b, out.off, kind, bytes.length);
  b.set(bytes, at);
  out.off = at + bytes.length;
}

function write(value: unknown, out: Out): void {
  if (value === null || value === undefined || typeof value === "boolean") {
    room(out, 1)[out.off++] = value === true ? 0xc3 : value === false ? 0xc2 : 0xc0;
    return;
  }
  if (typeof value === "number") {
    const b = room(out, 9);
    // Integers from -2^31 to 2^32 - 1 in their smallest form, as msgpackr writes them; else float64.
    const at = writeInt(b, out.off, value);
    if (at >= 0) {
      out.off = at;
      return;
    }
    b[out.off] = 0xcb;
    new DataView(b.buffer).setFloat64(out.off + 1, value);
    out.off += 9;
    return;
  }
  if (typeof value === "string") return writeSized(out, STR, encoder.encode(value));
  if (value instanceof Uint8Array) return writeSized(out, BIN, value);
  if (Array.isArray(value)) {
    out.off = writeHead(room(out, 5), out.off, ARRAY, value.length);
    for (const v of value) write(v, out);
    return;
  }
  if (typeof value === "object") {
    const entries = Object.entries(value);
    out.off = writeHead(room(out, 5), out.off, MAP, entries.length);
    for (const [k, v] of entries) {
      write(k, out);
      write(v, out);
    }
    return;
  }
  throw new TypeError(`Cannot encode a ${typeof value} as msgpack`);
}

/**
 * Decodes one frame body into a map, or throws BAD_REQUEST with the words
 * of lib/dialects/msgpack.ts's `decodeFrameBody`. Bytes values are copies.
 *
 * @example
 * ```ts
 * import { decodeFrameBody, encodeFrame } from "./_msgpack_lite.ts";
 * const frame = encodeFrame({ type: "end", id: 1, status: 0, result: "pong" });
 * console.assert(decodeFrameBody(frame.subarray(4)).result === "pong");
 * ```
 */
export function decodeFrameBody(body: Uint8Array): Record<string, unknown> {
  return frameMap(body, readOne);
}

/** The one msgpack value that is all of `body`. */
function readOne(body: Uint8Array): unknown {
  const r: Reader = { b: body, view: new DataView(body.buffer, body.byteOffset, body.length), pos: 0 };
  const value = read(r);
  if (r.pos !== body.length) throw new Error("Expected one msgpack value, found more bytes after it");
  return value;
}

/**
 * Bytes being read and where the next value starts. Plain functions over it rather than a class:
 * install.ts's eagerFunctions puts top-level functions in the installed bundle's code cache, while
 * class methods are parsed and compiled again on every run (0.26 and 1.1 ms less CPU of a cold
 * call in two A/B runs of 60, load 5.5).
 */
interface Reader {
  b: Uint8Array;
  view: DataView;
  pos: number;
}

/** Advances past `n` bytes; returns where they start. */
function take(r: Reader, n: number): number {
  const at = r.pos;
  if (n > r.b.length - at) throw new Error("Unexpected end of MessagePack data");
  r.pos = at + n;
  return at;
}

function read(r: Reader): unknown {
  const b = r.b;
  const t = b[take(r, 1)]!;
  if (t < 0x80) return t;
  if (t < 0x90) return readMap(r, t - 0x80);
  if (t < 0xa0) return readArray(r, t - 0x90);
  if (t < 0xc0) return readStr(r, t - 0xa0);
  if (t >= 0xe0) return t - 0x100;
  const v = r.view;
  switch (t) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      return readBin(r, b[take(r, 1)]!);
    case 0xc5:
      return readBin(r, readU16(b, take(r, 2)));
    case 0xc6:
      return readBin(r, readU32(b, take(r, 4)));
    case 0xc7:
      return readExt(r, b[take(r, 1)]!);
    case 0xc8:
      return readExt(r, readU16(b, take(r, 2)));
    case 0xc9:
      return readExt(r, readU32(b, take(r, 4)));
    case 0xca:
      return v.getFloat32(take(r, 4));
    case 0xcb:
      return v.getFloat64(take(r, 8));
    case 0xcc:
      return b[take(r, 1)]!;
    case 0xcd:
      return readU16(b, take(r, 2));
    case 0xce:
      return readU32(b, take(r, 4));
    case 0xcf:
      return v.getBigUint64(take(r, 8)); // msgpackr's default: 64-bit integers as BigInt
    case 0xd0:
      return readI8(b, take(r, 1));
    case 0xd1:
      return readI16(b, take(r, 2));
    case 0xd2:
      return readU32(b, take(r, 4)) | 0;
    case 0xd3:
      return v.getBigInt64(take(r, 8));
    case 0xd4:
      return readExt(r, 1);
    case 0xd5:
      return readExt(r, 2);
    case 0xd6:
      return readExt(r, 4);
    case 0xd7:
      return readExt(r, 8);
    case 0xd8:
      return readExt(r, 16);
    case 0xd9:
      return readStr(r, b[take(r, 1)]!);
    case 0xda:
      return readStr(r, readU16(b, take(r, 2)));
    case 0xdb:
      return readStr(r, readU32(b, take(r, 4)));
    case 0xdc:
      return readArray(r, readU16(b, take(r, 2)));
    case 0xdd:
      return readArray(r, readU32(b, take(r, 4)));
    case 0xde:
      return readMap(r, readU16(b, take(r, 2)));
    case 0xdf:
      return readMap(r, readU32(b, take(r, 4)));
  }
  throw new Error("0xc1 is not a msgpack value (the format never uses it)");
}

function readStr(r: Reader, n: number): string {
  const at = take(r, n);
  return decoder.decode(r.b.subarray(at, at + n));
}

function readBin(r: Reader, n: number): Uint8Array {
  const at = take(r, n);
  return r.b.slice(at, at + n);
}

function readArray(r: Reader, n: number): unknown[] {
  if (n > r.b.length - r.pos) throw new Error("Unexpected end of MessagePack data");
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = read(r);
  return out;
}

function readMap(r: Reader, n: number): Record<string, unknown> {
  if (n > r.b.length - r.pos) throw new Error("Unexpected end of MessagePack data");
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    let key = propertyName(read(r));
    // As msgpackr: a "__proto__" key would set the object's prototype.
    if (key === "__proto__") key = "__proto_";
    out[key] = read(r);
  }
  return out;
}

/** The one extension lib/codec.ts writes: timestamps (-1), read to a Date as msgpackr reads them. */
function readExt(r: Reader, n: number): Date {
  const type = r.b[take(r, 1)]!;
  const at = take(r, n);
  if (type !== 0xff) throw new Error(`Unknown extension ${type}`);
  const d = r.b.subarray(at, at + n);
  if (n === 4) return new Date((d[0]! * 0x1000000 + (d[1]! << 16) + (d[2]! << 8) + d[3]!) * 1000);
  if (n === 8) {
    return new Date(
      ((d[0]! << 22) + (d[1]! << 14) + (d[2]! << 6) + (d[3]! >> 2)) / 1000000 +
        ((d[3]! & 0x3) * 0x100000000 + d[4]! * 0x1000000 + (d[5]! << 16) + (d[6]! << 8) + d[7]!) * 1000,
    );
  }
  if (n === 12) {
    return new Date(
      ((d[0]! << 24) + (d[1]! << 16) + (d[2]! << 8) + d[3]!) / 1000000 +
        (((d[4]! & 0x80) ? -0x1000000000000 : 0) + d[6]! * 0x10000000000 + d[7]! * 0x100000000 +
            d[8]! * 0x1000000 + (d[9]! << 16) + (d[10]! << 8) + d[11]!) * 1000,
    );
  }
  return new Date("invalid");
}

/** A map key as msgpackr's `mapsAsObjects` makes it a property name. */
function propertyName(key: unknown): string {
  if (typeof key === "string") return key;
  if (typeof key === "number" || typeof key === "boolean" || typeof key === "bigint") return key.toString();
  if (key === null || key === undefined) return String(key);
  throw new Error(`Invalid property type for record: ${typeof key}`);
}
