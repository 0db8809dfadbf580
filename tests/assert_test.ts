/**
 * The assertion module checks what it says: a message check that does not
 * match fails (node:assert's `rejects(fn, Class, "text")` did not).
 */
import { AssertionError } from "node:assert/strict";
import { assertEquals, assertMatch, assertRejects, assertStatus, assertThrows } from "./assert.ts";

/** Runs `fn` and returns the AssertionError it fails with (anything else is a test failure). */
async function failure(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof AssertionError) return err.message;
    throw err;
  }
  throw new Error("Expected the assertion to fail, but it passed");
}

const boom = () => {
  throw new RangeError("Socket path is longer than 107 bytes");
};
const rejecting = () => Promise.reject(new RangeError("use --takeover"));

Deno.test("assert: assertThrows checks the class and the text the message includes", async () => {
  assertEquals(assertThrows(boom, RangeError, "107 bytes").message, "Socket path is longer than 107 bytes");
  assertThrows(boom, RangeError, /longer than \d+ bytes/);
  assertThrows(boom, /107 bytes/);
  assertThrows(boom, Error);
  assertMatch(await failure(() => assertThrows(boom, RangeError, "108 bytes")), /include "108 bytes"/);
  assertMatch(await failure(() => assertThrows(boom, RangeError, /108/)), /match \/108\//);
  assertMatch(await failure(() => assertThrows(boom, /108/)), /match \/108\//);
  assertMatch(
    await failure(() => assertThrows(boom, TypeError, "107")),
    /Expected TypeError, got RangeError/,
  );
  assertMatch(await failure(() => assertThrows(() => 1)), /Expected the function to throw/);
  assertMatch(await failure(() => assertThrows(() => 1, Error, "x", "while parsing")), /^while parsing/);
  assertMatch(
    await failure(() => assertThrows(() => rejecting(), Error)),
    /returned a promise: use assertRejects/,
  );
  assertMatch(
    await failure(() =>
      assertThrows(() => {
        throw "a string";
      })
    ),
    /Expected an Error/,
  );
  // A failure message in the second place is the old mistake: refused outright.
  assertThrows(() => assertThrows(boom, "107 bytes" as unknown as RegExp), TypeError, "not a message");
});

Deno.test("assert: assertRejects checks the class and the text the message includes", async () => {
  assertEquals((await assertRejects(rejecting, RangeError, "--takeover")).message, "use --takeover");
  await assertRejects(rejecting, /takeover/);
  assertMatch(await failure(() => assertRejects(rejecting, RangeError, "--force")), /include "--force"/);
  assertMatch(await failure(() => assertRejects(rejecting, TypeError)), /Expected TypeError/);
  assertMatch(await failure(() => assertRejects(() => Promise.resolve(1))), /Expected the promise to reject/);
});

Deno.test("assert: assertStatus compares the status", async () => {
  assertStatus({ status: 104 }, 104);
  assertMatch(await failure(() => assertStatus({ status: 104 }, 106)), /Expected status 106, got 104/);
  assertMatch(await failure(() => assertStatus(new Error("x"), 106)), /Expected status 106, got Error: x/);
});
