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
import { SockdError, Status } from "../errors.ts";

/** What a msgpack client sends first: NUL, "SOCKD", NUL, protocol version 1 (PROTOCOL.md). */
export const PREFACE: Uint8Array = new Uint8Array([0x00, 0x53, 0x4f, 0x43, 0x4b, 0x44, 0x00, 0x01]);

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
  const parts: Uint8Array[] = [];
  let size = 0;
  const put = (bytes: Uint8Array) => {
    parts.push(bytes);
    size += bytes.length;
  };
  put(new Uint8Array(4));
  write(message, put);
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  new DataView(out.buffer).setUint32(0, size - 4);
  return out;
}

function head(type: number, n: number, small: number, fix: number, c8: number): Uint8Array {
  if (n < small) return new Uint8Array([fix | n]);
  if (c8 !== 0 && n < 0x100) return new Uint8Array([c8, n]);
  if (n < 0x10000) return new Uint8Array([type, n >> 8, n & 0xff]);
  const b = new Uint8Array(5);
  b[0] = type + 1;
  new DataView(b.buffer).setUint32(1, n);
  return b;
}

function write(value: unknown, put: (bytes: Uint8Array) => void): void {
  if (value === null || value === undefined) return put(new Uint8Array([0xc0]));
  if (typeof value === "boolean") return put(new Uint8Array([value ? 0xc3 : 0xc2]));
  if (typeof value === "number") {
    const b = new Uint8Array(9);
    const view = new DataView(b.buffer);
    if (Number.isInteger(value) && value >= -0x80000000 && value <= 0xffffffff) {
      if (value >= 0 && value < 0x80) return put(new Uint8Array([value]));
      if (value < 0 && value >= -32) return put(new Uint8Array([value & 0xff]));
      // The smallest encoding, as msgpackr writes it.
      if (value >= 0) {
        if (value < 0x100) return put(new Uint8Array([0xcc, value]));
        if (value < 0x10000) return put(new Uint8Array([0xcd, value >> 8, value & 0xff]));
        b[0] = 0xce;
        view.setUint32(1, value);
        return put(b.subarray(0, 5));
      }
      if (value >= -0x80) return put(new Uint8Array([0xd0, value & 0xff]));
      if (value >= -0x8000) {
        b[0] = 0xd1;
        view.setInt16(1, value);
        return put(b.subarray(0, 3));
      }
      b[0] = 0xd2;
      view.setInt32(1, value);
      return put(b.subarray(0, 5));
    }
    b[0] = 0xcb;
    view.setFloat64(1, value);
    return put(b);
  }
  if (typeof value === "string") {
    const bytes = encoder.encode(value);
    // str 8 (0xd9) and str 16/32 (0xda/0xdb)
    put(head(0xda, bytes.length, 32, 0xa0, 0xd9));
    return put(bytes);
  }
  if (value instanceof Uint8Array) {
    put(head(0xc5, value.length, 0, 0, 0xc4));
    return put(value);
  }
  if (Array.isArray(value)) {
    put(head(0xdc, value.length, 16, 0x90, 0));
    for (const v of value) write(v, put);
    return;
  }
  if (typeof value === "object") {
    const entries = Object.entries(value);
    put(head(0xde, entries.length, 16, 0x80, 0));
    for (const [k, v] of entries) {
      write(k, put);
      write(v, put);
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
  let value: unknown;
  try {
    const reader = new Reader(body);
    value = reader.read();
    if (reader.pos !== body.length) throw new Error("Expected one msgpack value, found more bytes after it");
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
        return this.#bin(v.getUint16(this.#take(2)));
      case 0xc6:
        return this.#bin(v.getUint32(this.#take(4)));
      case 0xc7:
        return this.#ext(this.#b[this.#take(1)]!);
      case 0xc8:
        return this.#ext(v.getUint16(this.#take(2)));
      case 0xc9:
        return this.#ext(v.getUint32(this.#take(4)));
      case 0xca:
        return v.getFloat32(this.#take(4));
      case 0xcb:
        return v.getFloat64(this.#take(8));
      case 0xcc:
        return this.#b[this.#take(1)]!;
      case 0xcd:
        return v.getUint16(this.#take(2));
      case 0xce:
        return v.getUint32(this.#take(4));
      case 0xcf:
        return v.getBigUint64(this.#take(8)); // msgpackr's default: 64-bit integers as BigInt
      case 0xd0:
        return v.getInt8(this.#take(1));
      case 0xd1:
        return v.getInt16(this.#take(2));
      case 0xd2:
        return v.getInt32(this.#take(4));
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
        return this.#str(v.getUint16(this.#take(2)));
      case 0xdb:
        return this.#str(v.getUint32(this.#take(4)));
      case 0xdc:
        return this.#array(v.getUint16(this.#take(2)));
      case 0xdd:
        return this.#array(v.getUint32(this.#take(4)));
      case 0xde:
        return this.#map(v.getUint16(this.#take(2)));
      case 0xdf:
        return this.#map(v.getUint32(this.#take(4)));
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
