/**
 * lib/_abortable.ts's waits that the cold `sockd call` uses instead of
 * timers and AbortControllers: `after` (V8's own timer) and `AbortFlag`.
 */
import { AbortFlag, after, raceAbort, sleep } from "../lib/_abortable.ts";
import { assert, assertEquals } from "./assert.ts";
import { DENO } from "./_helpers.ts";

Deno.test("after: fires once its time is up, never when stopped first, and fires while a read waits", async () => {
  const fired: string[] = [];
  const stop = after(20, () => fired.push("stopped"));
  const t0 = performance.now();
  const kept = new Promise<number>((resolve) => after(40, () => resolve(performance.now() - t0)));
  stop();
  // after() keeps no event loop going (see below): a real timer does, meanwhile.
  const [waited] = await Promise.all([kept, sleep(100, new AbortFlag())]);
  assert(waited >= 35, `fired after ${waited} ms, not 40`);
  assertEquals(fired, []);
  // Nothing but a read keeps this process going: the timer still ends it, as it bounds a
  // one-shot call's wait for a server that never answers.
  const script = [
    'import { after } from "' + new URL("../lib/_abortable.ts", import.meta.url).href + '";',
    'const l = Deno.listen({ transport: "unix", path: Deno.args[0] });',
    'const c = await Deno.connect({ transport: "unix", path: Deno.args[0] });',
    "after(100, () => { c.close(); l.close(); });",
    'await c.read(new Uint8Array(8)).catch(() => console.log("ended by the timer"));',
  ].join("\n");
  const dir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command(DENO, {
      args: ["eval", "-q", script, `${dir}/s.sock`],
      env: { DENO_NO_PROMPT: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(20_000),
    }).output();
    assertEquals(new TextDecoder().decode(out.stderr), "");
    assertEquals(new TextDecoder().decode(out.stdout), "ended by the timer\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("after: keeps no process alive by itself", async () => {
  const script = 'import { after } from "' + new URL("../lib/_abortable.ts", import.meta.url).href +
    '";\nafter(60_000, () => console.log("fired"));\n';
  const t0 = performance.now();
  const out = await new Deno.Command(DENO, {
    args: ["eval", "-q", script],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  assertEquals(out.code, 0);
  assertEquals(new TextDecoder().decode(out.stdout), "");
  assert(performance.now() - t0 < 15_000);
});

Deno.test("AbortFlag: runs each listener once, forgets removed ones, and ends a raceAbort", async () => {
  const flag = new AbortFlag();
  const heard: string[] = [];
  const gone = () => heard.push("removed");
  flag.addEventListener("abort", () => heard.push("a"));
  flag.addEventListener("abort", gone);
  flag.removeEventListener("abort", gone);
  const raced = raceAbort(new Promise(() => {}), flag, () => new Error("interrupted"))
    .then(() => undefined, (e: Error) => e);
  assertEquals(flag.aborted, false);
  flag.abort();
  flag.abort();
  assertEquals(flag.aborted, true);
  assertEquals(heard, ["a"]);
  assertEquals((await raced)?.message, "interrupted");
  // Aborted already: a new wait ends at once, and sleep says it was cut short.
  assertEquals(await sleep(60_000, flag), false);
});
