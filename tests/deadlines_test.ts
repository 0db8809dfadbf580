import { Deadlines } from "../lib/_deadlines.ts";
import { assert, assertEquals } from "./assert.ts";

Deno.test("deadlines: many deadlines fire in due order on one timer; removed ones never fire", async () => {
  const deadlines = new Deadlines();
  const fired: number[] = [];
  const done = Promise.withResolvers<void>();
  // Added out of order, with duplicates; every third one removed before it is due.
  const order = [40, 10, 30, 20, 10, 50, 5, 45, 25, 15, 35, 60];
  const handles = order.map((ms, i) =>
    deadlines.add(ms, () => {
      fired.push(ms);
      if (fired.length === order.length - 4) done.resolve();
      assert(i % 3 !== 0, `deadline ${i} (${ms} ms) fired after it was removed`);
    })
  );
  handles.forEach((h, i) => {
    if (i % 3 === 0) deadlines.remove(h);
  });
  assertEquals(deadlines.size, order.length - 4);
  await done.promise;
  assertEquals(fired, order.filter((_, i) => i % 3 !== 0).sort((a, b) => a - b));
  assertEquals(deadlines.size, 0);
  // Removing one that fired, or twice, is harmless.
  deadlines.remove(handles[1]!);
  deadlines.remove(handles[0]!);
  deadlines.close();
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
  await new Promise((r) => setTimeout(r, 30));
  assertEquals(fired, ["early"]);
});
