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
 * maps, arrays, strings, bytes, numbers, booleans and null.
 *
 * @example
 * ```ts
 * import { encodeFrame } from "./_msgpack_lite.ts";
 * const frame = encodeFrame({ type: "cancel", id: 1 });
 * console.assert(frame.length === 4 + 16 && frame[4] === 0x82);
 * ```
 */
export function encodeFrame(message: Record<string, unknown>): Uint8Array {
  const out: Out = { bytes: new Uint8Array(256), off: 4 };
  write(message, out);
  writeU32(out.bytes, 0, out.off - 4);
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
  const reader = new Reader(body);
  const value = reader.read();
  if (reader.pos !== body.length) throw new Error("Expected one msgpack value, found more bytes after it");
  return value;
}

class Reader {
  pos = 0;
  #b: Uint8Array;
  #view: DataView;

  constructor(bytes: Uint8Array) {
    this.#b = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  /** Advances past `n` bytes; returns where they start. */
  #take(n: number): number {
    const at = this.pos;
    if (n > this.#b.length - at) throw new Error("Unexpected end of MessagePack data");
    this.pos = at + n;
    return at;
  }

  read(): unknown {
    const t = this.#b[this.#take(1)]!;
    if (t < 0x80) return t;
    if (t < 0x90) return this.#map(t - 0x80);
    if (t < 0xa0) return this.#array(t - 0x90);
    if (t < 0xc0) return this.#str(t - 0xa0);
    if (t >= 0xe0) return t - 0x100;
    const v = this.#view;
    switch (t) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.#bin(this.#b[this.#take(1)]!);
      case 0xc5:
        return this.#bin(readU16(this.#b, this.#take(2)));
      case 0xc6:
        return this.#bin(readU32(this.#b, this.#take(4)));
      case 0xc7:
        return this.#ext(this.#b[this.#take(1)]!);
      case 0xc8:
        return this.#ext(readU16(this.#b, this.#take(2)));
      case 0xc9:
        return this.#ext(readU32(this.#b, this.#take(4)));
      case 0xca:
        return v.getFloat32(this.#take(4));
      case 0xcb:
        return v.getFloat64(this.#take(8));
      case 0xcc:
        return this.#b[this.#take(1)]!;
      case 0xcd:
        return readU16(this.#b, this.#take(2));
      case 0xce:
        return readU32(this.#b, this.#take(4));
      case 0xcf:
        return v.getBigUint64(this.#take(8)); // msgpackr's default: 64-bit integers as BigInt
      case 0xd0:
        return readI8(this.#b, this.#take(1));
      case 0xd1:
        return readI16(this.#b, this.#take(2));
      case 0xd2:
        return readU32(this.#b, this.#take(4)) | 0;
      case 0xd3:
        return v.getBigInt64(this.#take(8));
      case 0xd4:
        return this.#ext(1);
      case 0xd5:
        return this.#ext(2);
      case 0xd6:
        return this.#ext(4);
      case 0xd7:
        return this.#ext(8);
      case 0xd8:
        return this.#ext(16);
      case 0xd9:
        return this.#str(this.#b[this.#take(1)]!);
      case 0xda:
        return this.#str(readU16(this.#b, this.#take(2)));
      case 0xdb:
        return this.#str(readU32(this.#b, this.#take(4)));
      case 0xdc:
        return this.#array(readU16(this.#b, this.#take(2)));
      case 0xdd:
        return this.#array(readU32(this.#b, this.#take(4)));
      case 0xde:
        return this.#map(readU16(this.#b, this.#take(2)));
      case 0xdf:
        return this.#map(readU32(this.#b, this.#take(4)));
    }
    throw new Error("0xc1 is not a msgpack value (the format never uses it)");
  }

  #str(n: number): string {
    const at = this.#take(n);
    return decoder.decode(this.#b.subarray(at, at + n));
  }

  #bin(n: number): Uint8Array {
    const at = this.#take(n);
    return this.#b.slice(at, at + n);
  }

  #array(n: number): unknown[] {
    if (n > this.#b.length - this.pos) throw new Error("Unexpected end of MessagePack data");
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.read();
    return out;
  }

  #map(n: number): Record<string, unknown> {
    if (n > this.#b.length - this.pos) throw new Error("Unexpected end of MessagePack data");
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      let key = propertyName(this.read());
      // As msgpackr: a "__proto__" key would set the object's prototype.
      if (key === "__proto__") key = "__proto_";
      out[key] = this.read();
    }
    return out;
  }

  /** The one extension lib/codec.ts writes: timestamps (-1), read to a Date as msgpackr reads them. */
  #ext(n: number): Date {
    const type = this.#b[this.#take(1)]!;
    const at = this.#take(n);
    if (type !== 0xff) throw new Error(`Unknown extension ${type}`);
    const d = this.#b.subarray(at, at + n);
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
}

/** A map key as msgpackr's `mapsAsObjects` makes it a property name. */
function propertyName(key: unknown): string {
  if (typeof key === "string") return key;
  if (typeof key === "number" || typeof key === "boolean" || typeof key === "bigint") return key.toString();
  if (key === null || key === undefined) return String(key);
  throw new Error(`Invalid property type for record: ${typeof key}`);
}
