/**
 * Micro-benchmarks of the msgpack framing (lib/dialects/_frame_decoder.ts):
 * framing a body, and splitting streams of small and 64 KiB frames as they
 * arrive in socket-sized chunks. `deno task bench:micro`.
 *
 * @module
 */
import { frame, FrameDecoder } from "../../../lib/dialects/_frame_decoder.ts";

const MAX = 16 * 1024 * 1024;
const small = new Uint8Array(34).fill(0x61);
const big = new Uint8Array(64 * 1024).fill(0x78);

/** `count` frames of `body` back to back, cut into `chunk`-byte pieces. */
function stream(body: Uint8Array, count: number, chunk: number): Uint8Array[] {
  const one = frame(body);
  const all = new Uint8Array(one.length * count);
  for (let i = 0; i < count; i++) all.set(one, i * one.length);
  const pieces: Uint8Array[] = [];
  for (let off = 0; off < all.length; off += chunk) pieces.push(all.subarray(off, off + chunk));
  return pieces;
}

const smallWhole = stream(small, 64, 64 * 1024);
const smallSplit = stream(small, 64, 100);
const bigSplit = stream(big, 16, 64 * 1024);

function run(pieces: Uint8Array[]) {
  const d = new FrameDecoder(MAX);
  let n = 0;
  for (const p of pieces) n += d.push(p).length;
  return n;
}

Deno.bench("frame() a 34 B body", { group: "frame", baseline: true }, () => {
  frame(small);
});
Deno.bench("frame() a 64 KiB body", { group: "frame" }, () => {
  frame(big);
});

Deno.bench("split 64 small frames, one 2.4 KB chunk", { group: "split-small", baseline: true }, () => {
  run(smallWhole);
});
Deno.bench("split 64 small frames, 100 B chunks (frames straddle)", { group: "split-small" }, () => {
  run(smallSplit);
});
Deno.bench("split 16 × 64 KiB frames in 64 KiB chunks (1 MiB)", { group: "split-big" }, () => {
  run(bigSplit);
});
