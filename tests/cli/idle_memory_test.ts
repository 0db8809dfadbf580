/**
 * lib/cli/_idle_memory.ts: when `sockd serve` gives memory back (quiet after
 * a connection came or went, not while a call runs, only after growth), and that
 * opening libc drops the ffi permission. The server doing it for real is
 * tests/e2e/idle_memory_test.ts.
 */
import { IdleMemory, type Reclaim, reclaimFunctions } from "../../lib/cli/_idle_memory.ts";
import { silentLogger } from "../../lib/log.ts";
import { assert, assertEquals } from "../assert.ts";
import { DENO, ROOT, waitFor } from "../_helpers.ts";

const MiB = 1024 * 1024;

/**
 * An IdleMemory over fakes: the test sets `rss` and `calls`; `gc` and `trim`
 * count the calls to each; a collection takes `gcMs` of (busy) time.
 */
function fake(delayMs = 20, gcMs = 0) {
  const state = { rss: 100 * MiB, calls: 0, ended: 0, gc: 0, trim: 0 };
  const reclaim: Reclaim = {
    gc: () => {
      state.gc++;
      state.rss -= 10 * MiB;
      const end = performance.now() + gcMs;
      while (performance.now() < end) { /* a collection's time */ }
    },
    trim: () => {
      state.trim++;
      return Promise.resolve();
    },
  };
  const idle = new IdleMemory({
    calls: () => ({ inFlight: state.calls, ended: state.ended }),
    reclaim,
    logger: silentLogger,
    delayMs,
    rss: () => state.rss,
  });
  return { state, idle };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("idle memory: collects once quiet for the delay after a connection came or went", async () => {
  const { state, idle } = fake();
  idle.changed();
  await waitFor(() => idle.collections === 1, 2000, "the first collection");
  assertEquals({ gc: state.gc, trim: state.trim }, { gc: 1, trim: 1 });
  idle.close();
});

Deno.test("idle memory: not while a call runs, nor while calls keep coming", async () => {
  const { state, idle } = fake();
  state.calls = 1;
  idle.changed();
  await sleep(100);
  assertEquals(idle.collections, 0, "collected while a call ran");
  state.calls = 0;
  // Short calls, one every 10 ms (the delay is 20): never quiet. The connection came before them.
  for (let i = 0; i < 10; i++) {
    state.ended++;
    await sleep(10);
  }
  assertEquals(idle.collections, 0, "collected while calls kept coming");
  // Quiet now: the wait that began at the connection collects, with no further connection.
  await waitFor(() => idle.collections === 1, 2000, "the collection once quiet");
  idle.close();
});

Deno.test("idle memory: collects the delay after the last call, not a whole delay after a look that saw it", async () => {
  // A connection, then its call ends soon after (as the bench's connections that each call once).
  const { state, idle } = fake(400);
  const start = performance.now();
  idle.changed();
  await sleep(30);
  state.ended++;
  // Due ~430-480 ms after the start; a look a whole delay after the one at 400 ms would collect at ~800.
  await waitFor(() => idle.collections === 1, 2000, "the collection");
  const at = performance.now() - start;
  assert(
    at >= 400,
    `collected ${Math.round(at)} ms after the connection, less than the delay after the call`,
  );
  assert(at < 700, `collected ${Math.round(at)} ms after the connection: a whole delay after a look`);
  idle.close();
});

Deno.test("idle memory: one collection for a burst of connections", async () => {
  const { state, idle } = fake();
  idle.changed();
  idle.changed();
  idle.changed();
  await waitFor(() => idle.collections === 1, 2000, "the collection");
  await sleep(100);
  assertEquals(state.gc, 1);
  idle.close();
});

Deno.test("idle memory: only when RSS has grown by a MiB since the last collection", async () => {
  const { state, idle } = fake();
  idle.changed();
  await waitFor(() => idle.collections === 1, 2000, "the first collection");
  // 90 MiB after it; half a MiB more is not worth a collection.
  state.rss += MiB / 2;
  idle.changed();
  await sleep(100);
  assertEquals(idle.collections, 1);
  state.rss += MiB;
  idle.changed();
  await waitFor(() => idle.collections === 2, 2000, "the second collection");
  idle.close();
});

Deno.test("idle memory: collections take at most 1% of the time, after 200 ms of credit", async () => {
  // Each takes 60 ms: the credit allows four in a row (the fourth runs it into debt), then one per ~6 s.
  const { state, idle } = fake(10, 60);
  for (let i = 1; i <= 4; i++) {
    state.rss += 20 * MiB;
    idle.changed();
    await waitFor(() => idle.collections === i, 3000, `collection ${i}`);
  }
  state.rss += 20 * MiB;
  idle.changed();
  await sleep(1000);
  assertEquals(idle.collections, 4, "a fifth collection within a second of the fourth");
  idle.close();
});

Deno.test("idle memory: close() cancels the pending check", async () => {
  const { state, idle } = fake();
  idle.changed();
  idle.close();
  await sleep(100);
  assertEquals(state.gc, 0);
});

Deno.test("idle memory: without ffi granted there is no trim, and gc is there", async () => {
  // The test permission set has no ffi.
  const r = await reclaimFunctions();
  assertEquals(r.trim, undefined);
  assertEquals(typeof r.gc, "function");
  r.gc!();
});

Deno.test("idle memory: opening libc drops the ffi permission for good", async () => {
  // Its own process: revoking a permission is for the whole process.
  const script = `
    import { reclaimFunctions } from "${ROOT}lib/cli/_idle_memory.ts";
    const r = await reclaimFunctions();
    let dlopen = "opened";
    try { Deno.dlopen("libc.so.6", { getpid: { parameters: [], result: "i32" } }); } catch (e) { dlopen = e.name; }
    const before = Deno.memoryUsage().rss;
    await r.trim?.();
    console.log(JSON.stringify({
      ffi: Deno.permissions.querySync({ name: "ffi" }).state,
      dlopen,
      trim: typeof r.trim,
      gc: typeof r.gc,
      rss: before > 0,
    }));
  `;
  const out = await new Deno.Command(DENO, {
    args: ["eval", "--allow-ffi", "--allow-read", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert(out.success, dec.decode(out.stderr));
  const got = JSON.parse(dec.decode(out.stdout));
  assert(got.ffi !== "granted", got.ffi);
  assertEquals(got.dlopen, "NotCapable");
  assertEquals(got.gc, "function");
  // glibc on Linux; elsewhere there is nothing to trim.
  assertEquals(got.trim, Deno.build.os === "linux" ? "function" : "undefined");
});
