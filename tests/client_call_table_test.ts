import { CallTable } from "../lib/_client_call_table.ts";
import { assertEquals } from "./assert.ts";

const call = (id: number) => ({ id });

Deno.test("call table: finds, forgets and lists calls like a Map", () => {
  const t = new CallTable<{ id: number }>();
  for (let id = 1; id <= 10; id++) t.set(id, call(id));
  assertEquals([t.size, t.get(3)?.id, t.get(11)], [10, 3, undefined]);
  assertEquals([t.delete(3), t.delete(3), t.get(3), t.size], [true, false, undefined, 9]);
  assertEquals(t.values().map((c) => c.id).sort((a, b) => a - b), [1, 2, 4, 5, 6, 7, 8, 9, 10]);
  t.clear();
  assertEquals([t.size, t.get(1), t.values()], [0, undefined, []]);
});

Deno.test("call table: a call whose slot is taken by an older one still in flight is found, and so is the older", () => {
  const t = new CallTable<{ id: number }>();
  const old = call(1);
  t.set(1, old);
  // Thousands of later calls come and go while call 1 stays; some land on its slot.
  for (let id = 2; id < 5000; id++) {
    t.set(id, call(id));
    assertEquals(t.get(id)?.id, id);
    if (id > 40) t.delete(id - 39);
  }
  assertEquals(t.get(1), old);
  assertEquals(t.size, 40);
  for (let id = 4961; id < 5000; id++) assertEquals(t.get(id)?.id, id);
  assertEquals(t.values().length, 40);
  assertEquals([t.delete(1), t.get(1), t.size], [true, undefined, 39]);
});

Deno.test("call table: grows past 16 calls in flight and keeps every one", () => {
  const t = new CallTable<{ id: number }>();
  for (let id = 1; id <= 1000; id++) t.set(id * 64, call(id * 64)); // all on slot 0 of the first array
  for (let id = 1; id <= 1000; id++) assertEquals(t.get(id * 64)?.id, id * 64);
  assertEquals(t.values().length, 1000);
  for (let id = 1; id <= 1000; id++) assertEquals(t.delete(id * 64), true);
  assertEquals(t.size, 0);
});

Deno.test("call table: ids a server may send that no call has (strings, fractions, huge) find nothing", () => {
  const t = new CallTable<{ id: number }>();
  t.set(5, call(5));
  t.set(69, call(69)); // the same first slot as 5
  for (const id of ["5", 5.5, 2 ** 32 + 5, -5, null, undefined, {}, NaN]) {
    assertEquals([t.get(id), t.delete(id)], [undefined, false], String(id));
  }
  assertEquals([t.get(5)?.id, t.get(69)?.id, t.size], [5, 69, 2]);
});
