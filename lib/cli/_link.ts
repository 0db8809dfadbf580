/**
 * The REPL's connection to the server, which comes back by itself: when the
 * server goes away, {@linkcode Link} reconnects with exponential backoff
 * (100 ms doubling to 5 s between attempts) for up to 30 s, and reports each
 * step through `onEvent` so the REPL can say what is happening.
 *
 * @module
 */
import { raceAbort, sleep } from "../_abortable.ts";
import { type Client, connect } from "../client.ts";
import { SockdError, Status } from "../errors.ts";

/** How reconnection is paced. */
export interface Backoff {
  /** Wait before the first attempt, in ms. @default {100} */
  firstDelayMs: number;
  /** Longest wait between attempts, in ms. @default {5000} */
  maxDelayMs: number;
  /** Stop trying after this long, in ms. @default {30000} */
  giveUpAfterMs: number;
}

/** The default pacing of reconnects. */
export const DEFAULT_BACKOFF: Readonly<Backoff> = Object.freeze({
  firstDelayMs: 100,
  maxDelayMs: 5000,
  giveUpAfterMs: 30_000,
});

/** What a {@linkcode Link} reports. */
export type LinkEvent =
  /** The connection closed; `reconnecting` says whether it is being re-established. */
  | { type: "lost"; error: SockdError; reconnecting: boolean }
  /** An attempt failed; the next comes after `delayMs`. */
  | { type: "retry"; attempt: number; delayMs: number; error: SockdError }
  /** Connected again. */
  | { type: "reconnected"; attempts: number; client: Client }
  /** Gave up after `elapsedMs`; the next {@linkcode Link.get} tries once more. */
  | { type: "gave-up"; attempts: number; elapsedMs: number; error: SockdError };

/** Options of {@linkcode Link}. */
export interface LinkOptions {
  /** Reconnect in the background when the connection closes. @default {true} */
  autoReconnect?: boolean;
  /** Pacing of reconnects. */
  backoff?: Partial<Backoff>;
  /** Time for one connection attempt, in ms. @default {5000} */
  connectTimeoutMs?: number;
  /** Told about losses and reconnects. */
  onEvent?: (event: LinkEvent) => void;
  /** One more uid trusted to own the socket (see `ConnectOptions.trustOwner`). */
  trustOwner?: number;
  /** Connects some other way than to the socket at `path` (e.g. through ssh); `path` then only names it. */
  dial?: (timeoutMs: number) => Promise<Client>;
}

/** A connection to one socket path that reconnects when it is lost. */
export class Link {
  /** The socket path. */
  readonly path: string;
  #client: Client | undefined;
  #reconnecting: Promise<Client | undefined> | undefined;
  #stop = new AbortController();
  #o:
    & Required<Omit<LinkOptions, "backoff" | "onEvent" | "trustOwner" | "dial">>
    & Pick<LinkOptions, "onEvent" | "trustOwner" | "dial">
    & {
      backoff: Backoff;
    };

  constructor(path: string, options: LinkOptions = {}) {
    this.path = path;
    this.#o = {
      autoReconnect: options.autoReconnect ?? true,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      onEvent: options.onEvent,
      trustOwner: options.trustOwner,
      dial: options.dial,
      backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
    };
  }

  /** The live connection, if any. */
  get client(): Client | undefined {
    return this.#client;
  }

  /** Whether a background reconnect is under way. */
  get reconnecting(): boolean {
    return this.#reconnecting !== undefined;
  }

  /**
   * The live connection. While reconnecting, waits for the outcome (`signal`
   * stops waiting); when disconnected, tries once. Rejects with a
   * {@linkcode SockdError} (CONN_ERROR, or CANCELLED when `signal` aborts).
   */
  async get(signal?: AbortSignal): Promise<Client> {
    if (this.#client) return this.#client;
    if (this.#reconnecting) {
      const got = await raceAbort(this.#reconnecting, signal, interrupted);
      if (got) return got;
    }
    return await raceAbort(this.#connectOnce(), signal, interrupted);
  }

  /**
   * Connects, and while there is no server at the path yet (no socket file,
   * or nobody listening), keeps trying with the backoff used after a loss,
   * without giving up; `onWait` hears of each wait. Other failures (a socket
   * that is not trusted, say) reject at once, as does aborting `signal`.
   */
  async waitForServer(
    signal: AbortSignal,
    onWait: (delayMs: number, attempt: number) => void,
  ): Promise<Client> {
    const { firstDelayMs, maxDelayMs } = this.#o.backoff;
    let delay = firstDelayMs;
    for (let attempt = 1;; attempt++) {
      try {
        return await raceAbort(this.#connectOnce(), signal, interrupted);
      } catch (err) {
        const cause = (err as SockdError).cause;
        const absent = cause instanceof Deno.errors.NotFound ||
          cause instanceof Deno.errors.ConnectionRefused;
        if (!absent || signal.aborted) throw err;
      }
      onWait(delay, attempt);
      if (!await sleep(delay, signal)) throw new SockdError(Status.CANCELLED, "Interrupted");
      delay = Math.min(delay * 2, maxDelayMs);
    }
  }

  /** Stops reconnecting and closes the connection. */
  close(): void {
    this.#stop.abort();
    const c = this.#client;
    this.#client = undefined;
    c?.close();
  }

  async #connectOnce(): Promise<Client> {
    const client = this.#o.dial
      ? await this.#o.dial(this.#o.connectTimeoutMs)
      : await connect(this.path, { timeoutMs: this.#o.connectTimeoutMs, trustOwner: this.#o.trustOwner });
    if (this.#stop.signal.aborted) {
      client.close();
      throw new SockdError(Status.CANCELLED, "Closed");
    }
    this.#adopt(client);
    return client;
  }

  #adopt(client: Client) {
    this.#client = client;
    client.closed.then(() => {
      if (this.#client !== client || this.#stop.signal.aborted) return;
      this.#client = undefined;
      const error = new SockdError(Status.CONN_ERROR, `Server at ${this.path} closed the connection`);
      const reconnecting = this.#o.autoReconnect;
      this.#o.onEvent?.({ type: "lost", error, reconnecting });
      if (reconnecting) {
        this.#reconnecting = this.#reconnect().finally(() => this.#reconnecting = undefined);
      }
    });
  }

  async #reconnect(): Promise<Client | undefined> {
    const { firstDelayMs, maxDelayMs, giveUpAfterMs } = this.#o.backoff;
    const started = Date.now();
    let delay = firstDelayMs;
    let attempts = 0;
    while (!this.#stop.signal.aborted) {
      if (!await sleep(delay, this.#stop.signal)) return undefined;
      attempts++;
      try {
        const client = await this.#connectOnce();
        this.#o.onEvent?.({ type: "reconnected", attempts, client });
        return client;
      } catch (err) {
        if (this.#stop.signal.aborted) return undefined;
        const error = err instanceof SockdError ? err : new SockdError(Status.CONN_ERROR, String(err));
        const elapsedMs = Date.now() - started;
        delay = Math.min(delay * 2, maxDelayMs);
        if (elapsedMs + delay > giveUpAfterMs) {
          this.#o.onEvent?.({ type: "gave-up", attempts, elapsedMs, error });
          return undefined;
        }
        this.#o.onEvent?.({ type: "retry", attempt: attempts, delayMs: delay, error });
      }
    }
    return undefined;
  }
}

/** The rejection of a wait cut short by the user. */
function interrupted(): SockdError {
  return new SockdError(Status.CANCELLED, "Interrupted");
}
