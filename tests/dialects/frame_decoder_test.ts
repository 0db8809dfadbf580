import { frame, FrameDecoder } from "../../lib/dialects/_frame_decoder.ts";
import { Status } from "../../lib/errors.ts";
import { assertEquals, assertStatus, assertThrows } from "../assert.ts";

const bytes = (...n: number[]) => new Uint8Array(n);

Deno.test("frame decoder: whole frames in one chunk come out in order", () => {
  const d = new FrameDecoder(100);
  const input = new Uint8Array([...frame(bytes(1, 2)), ...frame(bytes()), ...frame(bytes(3))]);
  assertEquals(d.push(input).map((f) => [...f]), [[1, 2], [], [3]]);
  assertEquals(d.buffered, 0);
});

Deno.test("frame decoder: a frame split at every byte boundary is reassembled", () => {
  const whole = frame(bytes(9, 8, 7, 6, 5));
  for (let cut = 1; cut < whole.length; cut++) {
    const d = new FrameDecoder(100);
    assertEquals(d.push(whole.subarray(0, cut)), []);
    assertEquals(d.push(whole.subarray(cut)).map((f) => [...f]), [[9, 8, 7, 6, 5]]);
  }
});

Deno.test("frame decoder: one byte at a time across many frames", () => {
  const d = new FrameDecoder(100);
  const stream = new Uint8Array([...frame(bytes(1)), ...frame(bytes(2, 2)), ...frame(bytes(3, 3, 3))]);
  const out: number[][] = [];
  for (const b of stream) out.push(...d.push(bytes(b)).map((f) => [...f]));
  assertEquals(out, [[1], [2, 2], [3, 3, 3]]);
});

Deno.test("frame decoder: a header announcing more than the limit throws TOO_LARGE before the body arrives", () => {
  const d = new FrameDecoder(1024);
  const header = bytes(0, 0, 4, 1); // 1025 bytes
  const err = assertThrowsStatus(() => d.push(header));
  assertStatus(err, Status.TOO_LARGE);
});

Deno.test("frame decoder: a 4 GiB length prefix is refused without allocating", () => {
  const d = new FrameDecoder(16 * 1024 * 1024);
  assertStatus(assertThrowsStatus(() => d.push(bytes(0xff, 0xff, 0xff, 0xff))), Status.TOO_LARGE);
});

Deno.test("frame decoder: frames returned from one push stay intact when the tail is kept", () => {
  const d = new FrameDecoder(100);
  const a = frame(bytes(1, 1, 1));
  const b = frame(bytes(2, 2, 2));
  d.push(a.subarray(0, 2));
  const got = d.push(new Uint8Array([...a.subarray(2), ...b.subarray(0, 3)]));
  assertEquals(got.map((f) => [...f]), [[1, 1, 1]]);
  assertEquals(d.push(b.subarray(3)).map((f) => [...f]), [[2, 2, 2]]);
});

function assertThrowsStatus(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assertThrows(() => {});
  return undefined;
}
