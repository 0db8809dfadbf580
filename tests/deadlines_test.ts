import { type Deadline, Deadlines } from "../lib/_deadlines.ts";
import { assert, assertEquals } from "./assert.ts";

Deno.test("deadlines: many deadlines fire in due order on one timer; removed ones never fire", async () => {
  const deadlines = new Deadlines();
  const fired: number[] = [];
  const done = Promise.withResolvers<void>();
  // Added out of order, with duplicates; every third one removed before it is due.
  const order = [40, 10, 30, 20, 10, 50, 5, 45, 25, 15, 35, 60];
  const firedIndex: number[] = [];
  const handles = order.map((ms, i) =>
    deadlines.add(ms, () => {
      // Recorded, not asserted: Deadlines swallows what a deadline's action throws.
      fired.push(ms);
      firedIndex.push(i);
      if (fired.length === order.length - 4) done.resolve();
    })
  );
  handles.forEach((h, i) => {
    if (i % 3 === 0) deadlines.remove(h);
  });
  assertEquals(deadlines.size, order.length - 4);
  await done.promise;
  // Due order is the order of due times (added at + ms), not of lengths: on a loaded machine the adds
  // themselves can be milliseconds apart.
  const due = firedIndex.map((i) => handles[i]!.at);
  assertEquals(due, [...due].sort((a, b) => a - b), "fired in due order");
  assertEquals([...fired].sort((a, b) => a - b), order.filter((_, i) => i % 3 !== 0).sort((a, b) => a - b));
  assertEquals(firedIndex.filter((i) => i % 3 === 0), [], "removed deadlines fired");
  assertEquals(deadlines.size, 0);
  // Removing one that fired, or twice, is harmless.
  deadlines.remove(handles[1]!);
  deadlines.remove(handles[0]!);
  deadlines.close();
});

Deno.test("deadlines: none fires before its due time, also when others share its timer", async () => {
  const deadlines = new Deadlines();
  const early: string[] = [];
  const done = Promise.withResolvers<void>();
  // Close together, so one timer wake-up finds several nearly due; fractional lengths too.
  const lengths = Array.from({ length: 40 }, (_, i) => 5 + i * 0.75);
  let count = 0;
  for (const ms of lengths) {
    const h: Deadline = deadlines.add(ms, () => {
      const now = performance.now();
      if (now < h.at) early.push(`${ms} ms fired ${(h.at - now).toFixed(2)} ms early`);
      if (++count === lengths.length) done.resolve();
    });
  }
  await done.promise;
  deadlines.close();
  assertEquals(early, []);
});

Deno.test("deadlines: an earlier deadline re-arms the timer; close stops everything", async () => {
  const deadlines = new Deadlines();
  const fired: string[] = [];
  deadlines.add(10_000, () => fired.push("late"));
  const early = Promise.withResolvers<void>();
  deadlines.add(10, () => {
    fired.push("early");
    early.resolve();
  });
  await early.promise;
  assertEquals(fired, ["early"]);
  deadlines.add(5, () => fired.push("after close"));
  deadlines.close();
  // Timers run in due order: one due after the closed deadline's would have fired it by now.
  await new Promise((r) => setTimeout(r, 15));
  assertEquals(fired, ["early"]);
  assert(deadlines.size > 0, "close leaves the pending ones in place, unfired");
});
