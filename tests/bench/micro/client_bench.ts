/**
 * Micro-benchmarks of the client library's own CPU (lib/client.ts and its
 * reader and writer), against an in-memory server that answers at once:
 * 64 `ping` calls in flight, and a 16 MiB stream of 64 KiB chunks iterated
 * (`for await`) or read into a lent buffer (`Call.readInto`). No socket and
 * no server process, so the figures are the client's alone; reads return
 * at most 128 KiB, about what a UNIX socket holds. `deno task bench:micro`.
 *
 * @module
 */
import { type Client, connectChannel } from "../../../lib/client.ts";
import type { ByteChannel } from "../../../lib/byte_channel.ts";
import { dataHeader, encodeFrame, MSGPACK_PREFACE } from "../../../lib/dialects/msgpack.ts";

const READ_MAX = 128 * 1024;
const CHUNK = 64 * 1024;
const STREAM_CHUNKS = 256;
const blob = new Uint8Array(CHUNK).fill(0x78);
/** An OK end with result "pong" for a 32-bit id (0xce), whose id bytes are patched per call. */
const endTemplate = encodeFrame({ type: "end", id: 0x10000, status: 0, result: "pong" });
const endId = endTemplate.indexOf(0xce) + 1;

/** A server in memory: answers `ping` with pong and `blob` with STREAM_CHUNKS chunks, as sockd frames them. */
class MemoryServer implements ByteChannel {
  #out: Uint8Array[] = [];
  #head = 0;
  #wake: (() => void) | undefined;
  #preface = MSGPACK_PREFACE.length;

  constructor() {
    this.#push(encodeFrame({ type: "hello", server: "sockd", version: "0", dialect: "msgpack" }));
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.#out.length > 0) return Promise.resolve(this.#fill(p));
    return new Promise((resolve) => this.#wake = () => resolve(this.#fill(p)));
  }

  write(p: Uint8Array): Promise<number> {
    let off = Math.min(this.#preface, p.length);
    this.#preface -= off;
    while (off < p.length) {
      const size = new DataView(p.buffer, p.byteOffset + off).getUint32(0);
      this.#answer(p.subarray(off + 4, off + 4 + size));
      off += 4 + size;
    }
    return Promise.resolve(p.length);
  }

  close(): void {}

  /** Answers one call frame (`{type, id, command, args}`, as the client writes it), cheaply. */
  #answer(body: Uint8Array) {
    const at = 1 + 5 + 5 + 3; // map, "type", "call", "id"
    const tag = body[at]!;
    let id = tag;
    let next = at + 1;
    if (tag === 0xcc) id = body[at + 1]!, next = at + 2;
    else if (tag === 0xcd) id = (body[at + 1]! << 8) | body[at + 2]!, next = at + 3;
    else if (tag === 0xce) {
      id = ((body[at + 1]! << 24) >>> 0) + (body[at + 2]! << 16) + (body[at + 3]! << 8) + body[at + 4]!;
      next = at + 5;
    }
    if (body[next + 9] === 0x62) { // "blob" (after the key "command" and the string's head)
      for (let i = 0; i < STREAM_CHUNKS; i++) {
        this.#push(dataHeader(id, CHUNK));
        this.#push(blob);
      }
      this.#push(encodeFrame({ type: "end", id, status: 0, result: null }));
    } else if (id >= 0x10000) {
      if (this.#slabUsed + endTemplate.length > this.#slab.length) {
        this.#slab = new Uint8Array(64 * 1024);
        this.#slabUsed = 0;
      }
      const end = this.#slab.subarray(this.#slabUsed, this.#slabUsed += endTemplate.length);
      end.set(endTemplate);
      end[endId] = id >>> 24;
      end[endId + 1] = (id >>> 16) & 0xff;
      end[endId + 2] = (id >>> 8) & 0xff;
      end[endId + 3] = id & 0xff;
      this.#push(end);
    } else this.#push(encodeFrame({ type: "end", id, status: 0, result: "pong" }));
  }

  /** Where ends are written (never rewritten: a new slab when full). */
  #slab = new Uint8Array(64 * 1024);
  #slabUsed = 0;

  #push(bytes: Uint8Array) {
    this.#out.push(bytes);
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /** Copies up to READ_MAX queued bytes into `p`, as a socket read would. */
  #fill(p: Uint8Array): number {
    let n = 0;
    const max = Math.min(p.length, READ_MAX);
    while (n < max && this.#out.length > 0) {
      const first = this.#out[0]!;
      const m = Math.min(max - n, first.length - this.#head);
      p.set(first.subarray(this.#head, this.#head + m), n);
      n += m;
      this.#head += m;
      if (this.#head === first.length) {
        this.#out.shift();
        this.#head = 0;
      }
    }
    return n;
  }
}

let connected: Client | undefined;
/** The client, connected on first use (a top-level await before the benches does not keep `deno bench` waiting). */
async function memoryClient(): Promise<Client> {
  return connected ??= await connectChannel(new MemoryServer(), { name: "memory" });
}

Deno.bench("64 pings in flight, 64 × 64 calls", { group: "mux" }, async () => {
  const client = await memoryClient();
  let left = 64 * 64;
  const loop = async () => {
    while (left-- > 0) await client.call("ping").result;
  };
  await Promise.all(Array.from({ length: 64 }, loop));
});

Deno.bench("16 MiB stream, for await", { group: "stream", baseline: true }, async () => {
  const client = await memoryClient();
  let got = 0;
  for await (const chunk of client.call("blob")) got += (chunk as Uint8Array).length;
  if (got !== STREAM_CHUNKS * CHUNK) throw new Error(`got ${got}`);
});

const lent = new Uint8Array(CHUNK);
Deno.bench("16 MiB stream, readInto a 64 KiB buffer", { group: "stream" }, async () => {
  const client = await memoryClient();
  const call = client.call("blob");
  let got = 0;
  for (let n; (n = await call.readInto(lent)) !== null;) got += n;
  if (got !== STREAM_CHUNKS * CHUNK) throw new Error(`got ${got}`);
});
