/**
 * The stream figure read the way a large output should be: into a buffer
 * the caller lends (`Call.readInto`), so the client allocates nothing per
 * chunk. Same server, command and baseline as the `stream` row, in its own
 * interleaved run.
 *
 * @module
 */
import type { Env } from "./_env.ts";
import { interleave, sockdClients } from "./_figures.ts";
import { rawBulk } from "./_raw_clients.ts";
import { Scope } from "./_processes.ts";
import { makeRow, type Row } from "./_row.ts";

/** Bytes the caller lends: the server's chunk size. */
const LEND_BYTES = 64 * 1024;

/** Streaming `bench-blob` through `lib/client.ts` with `readInto`, against raw bulk. */
export async function streamingLent(env: Env): Promise<Row[]> {
  await using scope = new Scope();
  const { streamBytes, reps } = env.config;
  const [client] = await sockdClients(env.sockd, 1, scope);
  const buf = new Uint8Array(LEND_BYTES);
  const sample = async (bytes: number) => {
    const t0 = performance.now();
    const call = client!.call("bench-blob", ["--bytes", String(bytes)]);
    let got = 0;
    for (let n; (n = await call.readInto(buf)) !== null;) got += n;
    await call.result;
    const seconds = (performance.now() - t0) / 1000;
    if (got !== bytes) throw new Error(`bench-blob streamed ${got} of ${bytes} bytes`);
    return bytes / seconds;
  };
  await rawBulk(env.rawBulk, streamBytes / 8);
  await sample(streamBytes / 8);
  const s = await interleave(reps, [
    { name: "raw", sample: () => rawBulk(env.rawBulk, streamBytes) },
    { name: "sockd", sample: () => sample(streamBytes) },
  ]);
  const size = `${streamBytes / 1024 / 1024} MiB`;
  return [makeRow({
    id: "stream-lend",
    figure: `streaming ${size} of output to the client, read into a lent 64 KiB buffer (Call.readInto)`,
    unit: "B/s",
    samples: s.get("sockd")!,
    baseline: "raw Deno bulk write, 64 KiB writes",
    baselineSamples: s.get("raw")!,
    target: { kind: "ratio-at-least", value: 0.6 },
    note: "The `stream` row iterates the call (each chunk a fresh buffer the caller keeps); this one lends " +
      "one buffer for all of them.",
  })];
}
