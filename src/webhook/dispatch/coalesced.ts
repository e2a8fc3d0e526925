/**
 * Runs `run` once for any number of `request()`s: the first request of a turn of the event loop
 * schedules one run (so requests made in the same turn share it), at most one run is under way at
 * a time, and requests made while it runs add exactly one more run after it. A run that fails is
 * the caller's to report (`run` should not throw; if it does, the error is dropped). After
 * `close()` nothing more runs.
 */
export class Coalesced {
  private scheduled = false;
  private running = false;
  private again = false;
  private closed = false;
  /** How many times `run` was called: for the tests, and for a log line that says how many. */
  runs = 0;

  constructor(private readonly run: () => void | Promise<void>) {}

  request(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => void this.go());
  }

  close(): void {
    this.closed = true;
  }

  private async go(): Promise<void> {
    this.scheduled = false;
    if (this.closed) return;
    this.running = true;
    try {
      do {
        this.again = false;
        this.runs++;
        try {
          await this.run();
        } catch {
          // `run` owns its errors; a stray one must not stop the next request from running.
        }
      } while (this.again && !this.closed);
    } finally {
      this.running = false;
    }
  }
}

/**
 * Delays between attempts to get something back (a lost connection): `firstMs`, doubled each time
 * up to `maxMs`, each drawn within ±`jitter` of that (so processes that lost the same server do not
 * all come back at once); `reset()` after a success starts again from `firstMs`.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly firstMs: number,
    private readonly maxMs: number,
    private readonly jitter = 0.2,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const base = Math.min(this.maxMs, this.firstMs * 2 ** this.attempt);
    if (base < this.maxMs) this.attempt++;
    const spread = base * this.jitter * (2 * this.random() - 1);
    return Math.max(0, Math.round(base + spread));
  }

  reset(): void {
    this.attempt = 0;
  }
}
