import { frame, FrameDecoder, ownsBuffer } from "../../lib/dialects/_frame_decoder.ts";
import { SockdError, Status } from "../../lib/errors.ts";
import { assert, assertEquals, assertStatus, assertThrows } from "../assert.ts";

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
  const err = assertThrows(() => d.push(header), SockdError, "Frame of 1025 bytes exceeds the limit of 1024");
  assertStatus(err, Status.TOO_LARGE);
});

Deno.test("frame decoder: a 4 GiB length prefix is refused without allocating", () => {
  const d = new FrameDecoder(16 * 1024 * 1024);
  const err = assertThrows(
    () => d.push(bytes(0xff, 0xff, 0xff, 0xff)),
    SockdError,
    "Frame of 4294967295 bytes",
  );
  assertStatus(err, Status.TOO_LARGE);
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

Deno.test("frame decoder: a frame across chunks owns its buffer; one inside a chunk is a view of it", () => {
  const d = new FrameDecoder(1 << 20);
  const a = frame(new Uint8Array(100).fill(1));
  const b = frame(new Uint8Array(10).fill(2));
  const [whole] = d.push(b);
  assert(!ownsBuffer(whole!), "a frame inside the pushed chunk is a view of it");
  assertEquals(d.push(a.subarray(0, 50)), []);
  const [gathered] = d.push(a.subarray(50));
  assert(ownsBuffer(gathered!), "a frame gathered across chunks has a buffer of its own");
  assertEquals([...gathered!], Array(100).fill(1));
});

Deno.test("frame decoder: the rest of a large frame can be read straight into its buffer", () => {
  const d = new FrameDecoder(4 * 1024 * 1024);
  const body = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
  const whole = frame(body);
  assertEquals(d.push(whole.subarray(0, 1000)), []);
  let off = 1000;
  let got: Uint8Array[] = [];
  // A frame above 1 MiB grows as it arrives, so the targets come in pieces.
  while (got.length === 0) {
    const target = d.readTarget(16 * 1024);
    assert(target, `a target while ${whole.length - off} bytes are missing`);
    const n = Math.min(target.length, 300_000, whole.length - off);
    target.set(whole.subarray(off, off + n));
    off += n;
    got = d.filled(n);
  }
  assertEquals(off, whole.length);
  assertEquals(d.buffered, 0);
  assert(got[0]!.length === body.length && got[0]!.every((b, i) => b === i % 251));
  assert(ownsBuffer(got[0]!));
  // A frame nearly complete is not worth a read of its own.
  d.push(frame(new Uint8Array(20_000)).subarray(0, 19_000));
  assertEquals(d.readTarget(16 * 1024), undefined);
});

Deno.test("frame decoder: a frame handed over by onPartial is forgotten; the caller's bytes after it start a new frame", () => {
  for (const cut of [2, 6, 9]) { // inside the length prefix, just after it, inside the body
    const d = new FrameDecoder(100);
    const offered: [number, number[]][] = [];
    d.onPartial = (size, part) => {
      offered.push([size, [...part]]);
      return true;
    };
    const first = frame(bytes(1, 2, 3, 4, 5, 6, 7, 8));
    const input = new Uint8Array([...frame(bytes(9)), ...first]);
    const head = 5 + cut; // the whole first frame, then `cut` bytes of the second
    const out = d.push(input.subarray(0, head)).map((f) => [...f]);
    const more = d.push(input.subarray(head, Math.max(head, 5 + 4 + 1))).map((f) => [...f]);
    assertEquals([...out, ...more], [[9]]);
    assertEquals(offered.length, 1, `cut ${cut}`);
    assertEquals(offered[0]![0], 8);
    // The caller read the rest itself; what follows is a new frame.
    assertEquals(d.buffered, 0);
    assertEquals(d.push(frame(bytes(42))).map((f) => [...f]), [[42]]);
  }
});

Deno.test("frame decoder: a frame onPartial declines is gathered as before", () => {
  const d = new FrameDecoder(100);
  d.onPartial = () => false;
  const whole = frame(bytes(1, 2, 3));
  assertEquals(d.push(whole.subarray(0, 5)), []);
  assertEquals(d.push(whole.subarray(5)).map((f) => [...f]), [[1, 2, 3]]);
});
