/**
 * The one module that imports the msgpack library (msgpackr, pure-JS build).
 * Swapping codecs touches this file only.
 *
 * @module
 */
import { Packr } from "msgpackr/pack";
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

/** Encodes one value as msgpack. */
export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

/**
 * Decodes exactly one msgpack value occupying all of `bytes`. Throws on
 * malformed input or trailing bytes. Callers bound `bytes` (frames are
 * size-checked before they get here).
 */
export function decode(bytes: Uint8Array): unknown {
  const values = unpackr.unpackMultiple(bytes) as unknown[] | undefined;
  if (!values || values.length !== 1) {
    throw new Error(`Expected one msgpack value, found ${values?.length ?? 0}`);
  }
  return values[0];
}
