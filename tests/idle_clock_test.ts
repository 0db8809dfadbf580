import { _alarmState, Alarm } from "../lib/_idle_clock.ts";
import { assert, assertEquals } from "./assert.ts";

Deno.test("alarms: each fires once, in order, no earlier than set; a cleared one never", async () => {
  const t0 = performance.now();
  const fired: [string, number][] = [];
  const done = Promise.withResolvers<void>();
  const alarm = (name: string) =>
    new Alarm(() => {
      fired.push([name, performance.now() - t0]);
      if (fired.length === 3) done.resolve();
    });
  const a = alarm("a"), b = alarm("b"), c = alarm("c"), cleared = alarm("cleared");
  b.set(120, t0);
  a.set(40, t0);
  cleared.set(60, t0);
  c.set(80, t0);
  cleared.clear();
  const deadline = setTimeout(
    () => done.reject(new Error(`only ${JSON.stringify(fired)} fired in 2 s`)),
    2000,
  );
  await done.promise;
  clearTimeout(deadline);
  assertEquals(fired.map(([name]) => name), ["a", "c", "b"]);
  for (const [name, at] of fired) {
    const ms = { a: 40, b: 120, c: 80 }[name]!;
    assert(at >= ms, `${name} fired after ${at} ms, set for ${ms}`);
  }
  // Nothing is left set, and the shared timer is not armed for nobody.
  assertEquals(_alarmState(), { set: 0, timer: false });
});

Deno.test("alarms: one set again as it fires fires again; clearing the last stops the shared timer", async () => {
  let count = 0;
  const again = Promise.withResolvers<void>();
  const alarm: Alarm = new Alarm(() => {
    if (++count < 3) alarm.set(10);
    else again.resolve();
  });
  alarm.set(10);
  await again.promise;
  assertEquals(count, 3);
  const idle = new Alarm(() => {
    throw new Error("a cleared alarm fired");
  });
  idle.set(50);
  assertEquals(_alarmState(), { set: 1, timer: true });
  idle.clear();
  assertEquals(_alarmState(), { set: 0, timer: false });
});
