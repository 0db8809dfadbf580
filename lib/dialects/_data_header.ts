/**
 * The front of a data frame (a call's bytes chunk) as the server writes it,
 * and its reader: the map's keys up to the bin header, so a client can find
 * where a chunk's bytes lie in a frame (or will lie, before they arrive)
 * without decoding it. The writer is lib/dialects/msgpack.ts's `dataHeader`.
 *
 * It imports nothing from npm or `node:` (the one-shot `sockd call` reads
 * with it; see _msgpack_bytes.ts for why that matters).
 *
 * @module
 */
import { fixstr, readU16, readU32 } from "./_msgpack_bytes.ts";

/** A data frame's map up to its id: `{type: "data", id: …` as msgpackr writes it. */
export const DATA_KEYS = new Uint8Array([
  0x83, // fixmap of 3
  ...fixstr("type"),
  ...fixstr("data"),
  ...fixstr("id"),
]);
/** The key after the id. */
export const CHUNK_KEY = fixstr("chunk");

/** A data frame's header, as {@linkcode readDataHeader} found it. */
export interface DataHeader {
  /** The call's id (integer ids only). */
  id: number;
  /** Where the chunk's bytes begin in the body. */
  start: number;
  /** The chunk's size in bytes. */
  size: number;
}

/**
 * Reads the header {@linkcode dataHeader} writes (its map up to the bin
 * header, the length prefix excluded) at the front of a frame `body` (all
 * of it, or its first bytes): the chunk's bytes are then
 * `body[start, start + size)`. Undefined when the body does not begin so
 * (any other frame, another key order, a string id, too few bytes yet).
 */
export function readDataHeader(body: Uint8Array): DataHeader | undefined {
  const keys = DATA_KEYS.length;
  if (body.length < keys + 1 + CHUNK_KEY.length + 2) return undefined;
  for (let i = 0; i < keys; i++) if (body[i] !== DATA_KEYS[i]) return undefined;
  let off = keys;
  const tag = body[off++]!;
  let id: number;
  if (tag < 0x80) id = tag;
  else if (tag === 0xcc) id = body[off++]!;
  else if (tag === 0xcd) id = readU16(body, off), off += 2;
  else if (tag === 0xce) {
    id = readU32(body, off);
    off += 4;
  } else return undefined;
  if (off + CHUNK_KEY.length + 5 > body.length) return undefined;
  for (let i = 0; i < CHUNK_KEY.length; i++) if (body[off + i] !== CHUNK_KEY[i]) return undefined;
  off += CHUNK_KEY.length;
  const bin = body[off]!;
  let size: number;
  if (bin === 0xc4) size = body[off + 1]!, off += 2;
  else if (bin === 0xc5) size = readU16(body, off + 1), off += 3;
  else if (bin === 0xc6) {
    size = readU32(body, off + 1);
    off += 5;
  } else return undefined;
  return { id, start: off, size };
}
