/**
 * Micro-benchmarks of lib/codec.ts: encode and decode of a small call frame
 * body and of a 64 KiB data chunk. `deno task bench:micro`.
 *
 * @module
 */
import { decode, encode } from "../../../lib/codec.ts";

const call = { type: "call", id: 1234, command: "ping", args: [] };
const end = { type: "end", id: 1234, status: 0, result: "pong" };
const chunk = { type: "data", id: 7, chunk: new Uint8Array(64 * 1024).fill(0x78) };

const callBytes = encode(call);
const chunkBytes = encode(chunk);

Deno.bench(`encode small (call ping, ${callBytes.length} B)`, { group: "small", baseline: true }, () => {
  encode(call);
});
Deno.bench("encode small (end pong)", { group: "small" }, () => {
  encode(end);
});
Deno.bench("decode small (call ping)", { group: "small" }, () => {
  decode(callBytes);
});
Deno.bench("JSON.stringify small (for comparison)", { group: "small" }, () => {
  JSON.stringify(call);
});
Deno.bench("JSON.parse small (for comparison)", { group: "small" }, () => {
  JSON.parse('{"type":"call","id":1234,"command":"ping","args":[]}');
});

Deno.bench("encode 64 KiB data chunk", { group: "64k", baseline: true }, () => {
  encode(chunk);
});
Deno.bench("decode 64 KiB data chunk", { group: "64k" }, () => {
  decode(chunkBytes);
});
Deno.bench("copy 64 KiB (Uint8Array.slice, the floor)", { group: "64k" }, () => {
  chunk.chunk.slice();
});
