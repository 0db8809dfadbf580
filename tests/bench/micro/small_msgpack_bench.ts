/**
 * Micro-benchmarks of lib/dialects/_small_msgpack.ts against msgpackr for
 * the hot frames: the client writing a call and reading an OK end, the
 * server reading the call and writing the end. `deno task bench:micro`.
 *
 * @module
 */
import { decode } from "../../../lib/codec.ts";
import { encodeFrame } from "../../../lib/dialects/msgpack.ts";
import { endFrame, readCallFrame, readOkEnd, writeCallFrame } from "../../../lib/dialects/_small_msgpack.ts";

const call = { type: "call", id: 1234, command: "ping", args: [] };
const end = { type: "end", id: 1234, status: 0, result: "pong" };
const callFrame = encodeFrame(call);
const endBytes = encodeFrame(end);
const out = new Uint8Array(4096);

Deno.bench("msgpackr: encode call frame", { group: "write call", baseline: true }, () => {
  encodeFrame(call);
});
Deno.bench("by hand: writeCallFrame into a batch buffer", { group: "write call" }, () => {
  writeCallFrame(out, 0, 1234, "ping", [], undefined);
});

Deno.bench("msgpackr: decode call frame", { group: "read call", baseline: true }, () => {
  decode(callFrame.subarray(4));
});
Deno.bench("by hand: readCallFrame", { group: "read call" }, () => {
  readCallFrame(callFrame, 4, callFrame.length);
});

Deno.bench("msgpackr: encode end frame", { group: "write end", baseline: true }, () => {
  encodeFrame(end);
});
Deno.bench("by hand: endFrame", { group: "write end" }, () => {
  endFrame(1234, "pong");
});

Deno.bench("msgpackr: decode end frame", { group: "read end", baseline: true }, () => {
  decode(endBytes.subarray(4));
});
Deno.bench("by hand: readOkEnd", { group: "read end" }, () => {
  readOkEnd(endBytes, 4, endBytes.length);
});
