/**
 * The assertions the tests use, with the semantics of `jsr:@std/assert`
 * (which the build machines cannot reach): in `assertThrows(fn, Class, text)`
 * and `assertRejects(fn, Class, text)` the third argument is text the
 * error's message must include (or a RegExp it must match), never a failure
 * message. `node:assert`'s `throws`/`rejects` read it as the failure message
 * and check only the class, so a message check written that way checked
 * nothing; this module is the one place the tests get assertions from.
 *
 * Unlike std, the second argument may not be a failure message (a string
 * there is the mistake this module exists to catch): it is an error class,
 * or a RegExp the message must match.
 */
import { AssertionError, deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { SockdError } from "../lib/errors.ts";

export { AssertionError };

/** Asserts `value` is truthy. */
export function assert(value: unknown, message?: string): asserts value {
  ok(value, message);
}

/** Asserts deep equality (prototypes included). */
export function assertEquals<T>(actual: unknown, expected: T, message?: string): asserts actual is T {
  deepStrictEqual(actual, expected, message);
}

/** Asserts `actual === expected` (Object.is). */
export function assertStrictEquals<T>(actual: unknown, expected: T, message?: string): asserts actual is T {
  strictEqual(actual, expected, message);
}

/** Asserts `text` matches `pattern`. */
export function assertMatch(text: string, pattern: RegExp, message?: string): void {
  if (!pattern.test(text)) {
    throw new AssertionError({
      message: message ?? `Expected ${JSON.stringify(text)} to match ${pattern}`,
    });
  }
}

/** Asserts `text` contains `part`. */
export function assertIncludes(text: string, part: string, message?: string): void {
  if (!text.includes(part)) {
    throw new AssertionError({
      message: message ?? `Expected ${JSON.stringify(text)} to include ${JSON.stringify(part)}`,
    });
  }
}

/** Asserts `err` is an error with the given sockd status. */
export function assertStatus(err: unknown, status: number): void {
  const got = err && typeof err === "object" && "status" in err ? err.status : undefined;
  if (got !== status) {
    throw new AssertionError({
      message: `Expected status ${status}, got ${got ?? String(err)}`,
    });
  }
}

// deno-lint-ignore no-explicit-any
type ErrorClass<E extends Error> = abstract new (...args: any[]) => E;
/** Text the message must include, or a pattern it must match. */
type MessageCheck = string | RegExp;

/**
 * Asserts `fn` throws, and returns what it threw. With `Class`, the error
 * must be an instance of it; with `text`, its message must include the
 * string (or match the RegExp). `fn` must not return a promise: use
 * {@linkcode assertRejects}.
 */
export function assertThrows(fn: () => unknown, pattern?: RegExp): Error;
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  Class: ErrorClass<E>,
  text?: MessageCheck,
  message?: string,
): E;
export function assertThrows(
  fn: () => unknown,
  expected?: ErrorClass<Error> | RegExp,
  text?: MessageCheck,
  message?: string,
): Error {
  let result: unknown;
  try {
    result = fn();
  } catch (err) {
    return check(err, expected, text, message);
  }
  if (result instanceof Promise) {
    result.catch(() => {});
    throw new AssertionError({ message: "Function returned a promise: use assertRejects" });
  }
  throw new AssertionError({ message: message ?? "Expected the function to throw" });
}

/** {@linkcode assertThrows} for a function returning a promise: the promise must reject. */
export function assertRejects(fn: () => PromiseLike<unknown>, pattern?: RegExp): Promise<Error>;
export function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  Class: ErrorClass<E>,
  text?: MessageCheck,
  message?: string,
): Promise<E>;
export async function assertRejects(
  fn: () => PromiseLike<unknown>,
  expected?: ErrorClass<Error> | RegExp,
  text?: MessageCheck,
  message?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return check(err, expected, text, message);
  }
  throw new AssertionError({ message: message ?? "Expected the promise to reject" });
}

function check(
  err: unknown,
  expected: ErrorClass<Error> | RegExp | undefined,
  text: MessageCheck | undefined,
  message: string | undefined,
): Error {
  const fail = (what: string) => new AssertionError({ message: message ? `${message}: ${what}` : what });
  if (typeof expected === "string") {
    // Not in the types, but a cast can still pass one.
    throw new TypeError("The second argument is an error class or a RegExp, not a message");
  }
  if (!(err instanceof Error)) throw fail(`Expected an Error to be thrown, got ${String(err)}`);
  if (expected instanceof RegExp) {
    if (text !== undefined) throw new TypeError("A RegExp second argument takes no third argument");
    text = expected;
  } else if (expected !== undefined && !(err instanceof expected)) {
    const got: Error = err;
    throw fail(`Expected ${expected.name}, got ${got.constructor.name}: ${got.message}`);
  }
  if (typeof text === "string" && !err.message.includes(text)) {
    throw fail(
      `Expected the error message to include ${JSON.stringify(text)}, got ${JSON.stringify(err.message)}`,
    );
  }
  if (text instanceof RegExp && !text.test(err.message)) {
    throw fail(`Expected the error message to match ${text}, got ${JSON.stringify(err.message)}`);
  }
  return err;
}

/** The error `promise` rejects with (fails if it resolves), typed as a sockd error. */
export async function caught(promise: Promise<unknown>): Promise<SockdError> {
  try {
    await promise;
  } catch (err) {
    return err as SockdError;
  }
  throw new AssertionError({ message: "Expected the promise to reject, but it resolved" });
}
