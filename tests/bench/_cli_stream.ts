/**
 * Streaming a large output through the installed CLI, as an operator does:
 * `sockd call --socket S bench-blob --bytes N > /dev/null`, against `socat`
 * reading the same byte count from the raw bulk server to /dev/null. Both
 * sides are spawned processes timed from spawn to exit, interleaved.
 *
 * socat runs with `-t 60`: its default (0.5 s after the request's end of
 * file) closes the transfer early and still exits 0 (seen: 64 KiB of 1 GiB
 * through a slow reader), so a zero exit proves nothing about the byte count.
 * Each side is therefore run once first with stdout piped and counted.
 *
 * @module
 */
import type { Env } from "./_env.ts";
import { interleave } from "./_figures.ts";
import { installedSockd } from "./_install.ts";
import { makeRow, type Row } from "./_row.ts";

/** The chunk size of both servers; socat reads with the same buffer (its default is 8 KiB). */
const CHUNK = 64 * 1024;
/** Deadline of one process: far above 1 GiB at the slowest figure seen (~0.5 GB/s). */
const RUN_DEADLINE_MS = 120_000;

interface Side {
  cmd: string;
  args: string[];
}

function failure(side: Side, code: number, stderr: Uint8Array): Error {
  return new Error(
    `${side.cmd} ${side.args.join(" ")} exited with ${code}: ${new TextDecoder().decode(stderr).trim()}`,
  );
}

/** Runs `side` with stdout on /dev/null; its wall time from spawn to exit, in ms. */
async function timeToDevNull(side: Side): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(side.cmd, {
    args: side.args,
    cwd: "/",
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(RUN_DEADLINE_MS),
  }).output();
  const ms = performance.now() - t0;
  if (!out.success) throw failure(side, out.code, out.stderr);
  return ms;
}

/** Runs `side` with stdout piped here; the bytes it wrote. */
async function countStdout(side: Side): Promise<number> {
  const child = new Deno.Command(side.cmd, {
    args: side.args,
    cwd: "/",
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(RUN_DEADLINE_MS),
  }).spawn();
  const stderr = new Response(child.stderr).bytes();
  let got = 0;
  for await (const chunk of child.stdout) got += chunk.length;
  const [status, err] = await Promise.all([child.status, stderr]);
  if (!status.success) throw failure(side, status.code, err);
  return got;
}

/** socat's address syntax gives `:`, `,`, `!` and quotes meaning; the bench's temp paths have none. */
function socatPath(path: string): string {
  if (/[:,!'"\\\s]/.test(path)) throw new Error(`socat cannot be given the path ${JSON.stringify(path)}`);
  return path;
}

/** `sockd call … bench-blob > /dev/null` against `socat` reading raw bulk to /dev/null. */
export async function cliStreaming(env: Env): Promise<Row[]> {
  const { streamBytes, reps } = env.config;
  const sockd = await installedSockd();
  const request = `${env.dir}/bulk-request-${streamBytes}.bin`;
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, BigInt(streamBytes));
  await Deno.writeFile(request, head);
  const cli: Side = {
    cmd: sockd,
    args: ["call", "--socket", env.sockd, "bench-blob", "--bytes", String(streamBytes)],
  };
  const socat: Side = {
    cmd: "socat",
    args: [
      "-b",
      String(CHUNK),
      "-t",
      "60",
      `OPEN:${socatPath(request)},rdonly!!STDOUT`,
      `UNIX-CONNECT:${socatPath(env.rawBulk)}`,
    ],
  };
  // Once each through a pipe, counted: both move exactly the byte count (and warm up).
  for (const [name, side] of [["sockd call", cli], ["socat", socat]] as const) {
    const got = await countStdout(side);
    if (got !== streamBytes) throw new Error(`${name} wrote ${got} of ${streamBytes} bytes`);
  }
  const rate = async (side: Side) => streamBytes / ((await timeToDevNull(side)) / 1000);
  const s = await interleave(reps, [
    { name: "socat", sample: () => rate(socat) },
    { name: "cli", sample: () => rate(cli) },
  ]);
  const size = `${streamBytes / 1024 / 1024} MiB`;
  return [makeRow({
    id: "cli-stream",
    figure: `streaming ${size} through \`sockd call\` to /dev/null (64 KiB chunks)`,
    unit: "B/s",
    samples: s.get("cli")!,
    baseline: `\`socat -b ${CHUNK} -t 60\` reading raw Deno bulk (64 KiB writes) to /dev/null`,
    baselineSamples: s.get("socat")!,
    target: { kind: "ratio-at-least", value: 0.6 },
    note: "The installed `sockd call` (`deno task install`) as an operator runs it, stdout on /dev/null. " +
      "Both sides are processes timed from spawn to exit, so each includes its start-up (~20 ms for " +
      "`sockd call`, a few ms for socat: ~1-2% at 1 GiB" +
      (env.config.quick ? `, several times that at --quick's ${size})` : ")") +
      ". Each side's byte count is checked once per run through a pipe first (socat's exit code alone " +
      "proves nothing: with its default -t it stops early and exits 0). Target: issue 18's streaming " +
      "target (≥ 0.6× raw) applied to the CLI.",
  })];
}
