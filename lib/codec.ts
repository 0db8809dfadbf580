/**
 * The one module that imports the msgpack library (msgpackr, pure-JS build).
 * Swapping codecs touches this file only.
 *
 * @module
 */
import { Packr, RESERVE_START_SPACE } from "msgpackr/pack";
import { Unpackr } from "msgpackr/unpack";

// Plain msgpack only: no records, no structured clone, no bundled strings,
// so any msgpack implementation in any language can read what we write.
const packr = new Packr({
  useRecords: false,
  moreTypes: false,
  bundleStrings: false,
  encodeUndefinedAsNil: true,
  // Smallest map header (fixmap for small maps), as other implementations write it.
  variableMapSize: true,
});
const unpackr = new Unpackr({
  useRecords: false,
  moreTypes: false,
  bundleStrings: false,
  mapsAsObjects: true,
  // Decoded bytes get their own memory instead of viewing the frame: read
  // buffers can be reused, and a small chunk never pins a large buffer.
  copyBuffers: true,
});
/** For bytes the caller hands over for good: decoded bytes are views of them, no copy. */
const viewingUnpackr = new Unpackr({
  useRecords: false,
  moreTypes: false,
  bundleStrings: false,
  mapsAsObjects: true,
  copyBuffers: false,
});

/**
 * What msgpackr answers for the never-used byte 0xc1 instead of failing: a
 * marker object (its types do not export it, so it is asked for once here).
 */
const NEVER_USED: unknown = unpackr.unpack(new Uint8Array([0xc1]));

/** Encodes one value as msgpack. */
export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

/**
 * Encodes one value as msgpack after `prefix` (4 to 255) bytes left for the
 * caller, and writes the length of the encoding big-endian into the last
 * four of them (a length-prefixed frame when `prefix` is 4). One buffer, no
 * copy of the encoding.
 */
export function encodeFramed(value: unknown, prefix: number): Uint8Array {
  const out = packr.pack(value, RESERVE_START_SPACE | prefix) as Uint8Array;
  const size = out.length - prefix;
  out[prefix - 4] = size >>> 24;
  out[prefix - 3] = (size >>> 16) & 0xff;
  out[prefix - 2] = (size >>> 8) & 0xff;
  out[prefix - 1] = size & 0xff;
  return out;
}

/** Options of {@linkcode decode}. */
export interface DecodeOptions {
  /**
   * The caller hands `bytes` over for good (nobody writes them again): bytes
   * values in the result are views of them instead of copies. @default {false}
   */
  keep?: boolean;
}

/**
 * Decodes exactly one msgpack value occupying all of `bytes`. Throws on
 * malformed input or trailing bytes. Callers bound `bytes` (frames are
 * size-checked before they get here).
 */
export function decode(bytes: Uint8Array, options?: DecodeOptions): unknown {
  try {
    const value = (options?.keep ? viewingUnpackr : unpackr).unpack(bytes);
    if (value === NEVER_USED) throw new Error("0xc1 is not a msgpack value (the format never uses it)");
    return value;
  } catch (err) {
    if (err instanceof Error && err.message.startsWith("Data read, but end of buffer not reached")) {
      throw new Error("Expected one msgpack value, found more bytes after it");
    }
    throw err;
  }
}
