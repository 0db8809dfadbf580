/**
 * When a failed plugin host starts again, and when it does not: backoff
 * that doubles with each failure in a window, and a plugin disabled after
 * too many (as runit and s6 hold a crash-looping service down).
 *
 * @module
 */
import type { SandboxOptions } from "./host_options.ts";

type Policy = Pick<
  SandboxOptions,
  "maxFailures" | "failureWindowMs" | "restartBackoffMs" | "restartBackoffMaxMs"
>;

/**
 * The failures of one plugin version.
 *
 * @example
 * ```ts
 * import { RestartPolicy } from "./restart_policy.ts";
 * const p = new RestartPolicy("x.ts", { maxFailures: 3, failureWindowMs: 60_000, restartBackoffMs: 100, restartBackoffMaxMs: 5000 });
 * console.assert(p.fail("crash", 0) === 100);
 * console.assert(p.fail("crash", 10) === 200);
 * console.assert(p.fail("crash", 20) === undefined && p.disabled!.includes("failed 3 times"));
 * ```
 */
export class RestartPolicy {
  #name: string;
  #policy: Policy;
  #failures: number[] = [];
  #disabled: string | undefined;

  constructor(name: string, policy: Policy) {
    this.#name = name;
    this.#policy = policy;
  }

  /** Why the plugin no longer starts, once it is disabled. */
  get disabled(): string | undefined {
    return this.#disabled;
  }

  /**
   * Counts a failure (`why`, at `now` ms); returns the wait before the next
   * start, or undefined when the plugin is now disabled.
   */
  fail(why: string, now: number = Date.now()): number | undefined {
    if (this.#disabled) return undefined;
    const { maxFailures, failureWindowMs, restartBackoffMs, restartBackoffMaxMs } = this.#policy;
    this.#failures = this.#failures.filter((t) => now - t < failureWindowMs);
    this.#failures.push(now);
    const n = this.#failures.length;
    if (n < maxFailures) return Math.min(restartBackoffMaxMs, restartBackoffMs * 2 ** (n - 1));
    this.#disabled = `Plugin ${this.#name} is disabled: its host failed ${n} times ` +
      `within ${Math.round(failureWindowMs / 1000)} s (last: ${why}); fix it and run reload`;
    return undefined;
  }
}
