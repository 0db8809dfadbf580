import { EventBus } from "../../lib/supervise/event_bus.ts";
import { LogRing } from "../../lib/supervise/log_ring.ts";
import { assertEquals } from "../assert.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("log ring: keeps the last capacity bytes and answers the last N whole lines", () => {
  const ring = new LogRing(20);
  ring.write(enc("one\ntwo\n"));
  assertEquals(ring.tail(1), "two\n");
  assertEquals(ring.tail(5), "one\ntwo\n");
  ring.write(enc("three\nfour\nfive\n")); // 24 bytes in all: "one\n" and part of nothing else is gone
  assertEquals(ring.size, 20);
  assertEquals(ring.written, 24);
  assertEquals(new TextDecoder().decode(ring.bytes()), "two\nthree\nfour\nfive\n");
  assertEquals(ring.tail(2), "four\nfive\n");
  ring.write(enc("xx")); // cuts "two" to "o\n": a fragment, left out
  assertEquals(ring.tail(10), "three\nfour\nfive\nxx");
  ring.write(enc("a".repeat(50))); // larger than the ring
  assertEquals(ring.tail(1), "a".repeat(20));
  assertEquals(ring.tail(0), "");
});

Deno.test("log ring: a follower gets what is written after it subscribed, and the drop count when slow", async () => {
  const ring = new LogRing(1024);
  ring.write(enc("before\n"));
  const ac = new AbortController();
  const it = ring.follow(ac.signal, 8)[Symbol.asyncIterator]();
  ring.write(enc("12345\n"));
  ring.write(enc("dropped\n")); // over the follower's 8 bytes: dropped for it, kept in the ring
  ring.write(enc("more\n"));
  const got = [];
  for (let i = 0; i < 2; i++) got.push((await it.next()).value);
  assertEquals(got, [{ item: enc("12345\n") }, { dropped: 2 }]);
  ring.write(enc("after\n"));
  assertEquals((await it.next()).value, { item: enc("after\n") });
  assertEquals(ring.tail(2), "more\nafter\n");
  ac.abort();
  assertEquals((await it.next()).done, true);
});

Deno.test("event bus: closing ends every subscription", async () => {
  const bus = new EventBus<number>();
  const it = bus.subscribe()[Symbol.asyncIterator]();
  bus.publish(1);
  bus.close();
  assertEquals((await it.next()).value, { item: 1 });
  assertEquals((await it.next()).done, true);
  assertEquals(bus.size, 0);
});
