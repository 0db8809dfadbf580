/**
 * When a plugin's host stops for want of work: once it has had no call for
 * its idle time, unless it is pinned. The next call starts another host.
 *
 * @module
 */

/**
 * The idle timer of one plugin version's host.
 *
 * @example
 * ```ts
 * import { IdleStop } from "./_idle_stop.ts";
 * let stopped = 0;
 * const idle = new IdleStop(10, () => stopped++);
 * idle.arm(() => true);
 * await new Promise((r) => setTimeout(r, 50));
 * console.assert(stopped === 1);
 * idle.pin(true, () => true);
 * idle.arm(() => true);
 * await new Promise((r) => setTimeout(r, 30));
 * console.assert(stopped === 1);
 * idle.clear();
 * ```
 */
export class IdleStop {
  readonly ms: number;
  #stop: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pinned = false;

  /** `ms` of idleness before `stop` is called; `0` never calls it. */
  constructor(ms: number, stop: () => void) {
    this.ms = ms;
    this.#stop = stop;
  }

  /** Whether hosts stop when idle at all (else they run from load on). */
  get enabled(): boolean {
    return this.ms > 0;
  }

  /**
   * Stops the host `ms` from now if `idle()` still holds then (no call, a
   * live host). Arming again restarts the wait.
   */
  arm(idle: () => boolean): void {
    if (!this.enabled || this.#pinned || !idle()) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#pinned && idle()) this.#stop();
    }, this.ms);
  }

  /** A call came: no stop for now. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Pinned, the host never stops for idleness (see `PluginHost.pin`). */
  pin(on: boolean, idle: () => boolean): void {
    this.#pinned = on;
    if (on) this.clear();
    else this.arm(idle);
  }
}
