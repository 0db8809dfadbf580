/**
 * The few assertions the tests need (jsr:@std/assert is not reachable from
 * the build machines; node:assert is built into Deno).
 */
export {
  deepStrictEqual as assertEquals,
  ok as assert,
  rejects as assertRejects,
  strictEqual as assertStrictEquals,
  throws as assertThrows,
} from "node:assert/strict";
import { ok } from "node:assert/strict";

/** Asserts `text` contains `part`. */
export function assertIncludes(text: string, part: string, message?: string): void {
  ok(text.includes(part), message ?? `Expected ${JSON.stringify(text)} to include ${JSON.stringify(part)}`);
}

/** Asserts `err` is an error with the given sockd status. */
export function assertStatus(err: unknown, status: number): void {
  ok(
    err && typeof err === "object" && "status" in err && err.status === status,
    `Expected status ${status}, got ${
      err && typeof err === "object" && "status" in err ? err.status : String(err)
    }`,
  );
}

/** The error `promise` rejects with (fails if it resolves), typed as a sockd error. */
export async function caught(promise: Promise<unknown>): Promise<import("../lib/errors.ts").SockdError> {
  try {
    await promise;
  } catch (err) {
    return err as import("../lib/errors.ts").SockdError;
  }
  throw new Error("Expected the promise to reject, but it resolved");
}
