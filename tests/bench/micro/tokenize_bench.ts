/**
 * Micro-benchmarks of the text dialect's tokenizer
 * (lib/dialects/_tokenize.ts) and of the line splitter the text and
 * JSON-lines dialects share (lib/dialects/_line_reader.ts).
 * `deno task bench:micro`.
 *
 * @module
 */
import { tokenize } from "../../../lib/dialects/_tokenize.ts";
import { LineReader } from "../../../lib/dialects/_line_reader.ts";

Deno.bench("tokenize `ping`", { group: "tokenize", baseline: true }, () => {
  tokenize("ping");
});
Deno.bench("tokenize `echo hello world --flag value`", { group: "tokenize" }, () => {
  tokenize("echo hello world --flag value");
});
Deno.bench(`tokenize quoted: echo "a b" 'c d' e\\ f "x\\"y"`, { group: "tokenize" }, () => {
  tokenize(`echo "a b" 'c d' e\\ f "x\\"y"`);
});
const long = Array.from({ length: 100 }, (_, i) => `word${i}`).join(" ");
Deno.bench("tokenize 100 plain words", { group: "tokenize" }, () => {
  tokenize(long);
});

const encoder = new TextEncoder();
const lines64 = encoder.encode('{"id":1,"command":"ping"}\n'.repeat(64));
const pieces = Array.from(
  { length: Math.ceil(lines64.length / 100) },
  (_, i) => lines64.subarray(i * 100, i * 100 + 100),
);

Deno.bench("LineReader: 64 jsonl lines in one chunk", { group: "lines", baseline: true }, () => {
  new LineReader(64 * 1024).push(lines64);
});
Deno.bench("LineReader: 64 jsonl lines in 100 B chunks (lines straddle)", { group: "lines" }, () => {
  const r = new LineReader(64 * 1024);
  for (const p of pieces) r.push(p);
});
