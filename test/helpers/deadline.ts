/** How long a helper waits for an event unless the test says otherwise. */
export const DEFAULT_WAIT_MS = 20_000;

/**
 * `promise`, or a rejection that names what was awaited once `ms` pass: a test that waits for an
 * event fails saying what never came, instead of hitting Jest's anonymous timeout.
 */
export function withDeadline<T>(promise: Promise<T>, what: string, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * For a state no helper observes (rows in the database): polls `check` every 100 ms until it
 * holds, or fails naming `what` after `timeoutMs`.
 */
export async function eventually(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Tests waiting for something a helper observes (a log line, a webhook request): `wait` resolves
 * with the first observed value that matches, or rejects naming `what` after `ms`.
 */
export class Waiters<T> {
  private readonly pending = new Set<{
    matches: (value: T) => boolean;
    resolve: (value: T) => void;
  }>();

  wait(matches: (value: T) => boolean, what: string, ms = DEFAULT_WAIT_MS): Promise<T> {
    const waiter = { matches, resolve: (_value: T): void => undefined };
    const found = new Promise<T>((resolve) => {
      waiter.resolve = resolve;
      this.pending.add(waiter);
    });
    return withDeadline(found, what, ms).finally(() => this.pending.delete(waiter));
  }

  /** Hands `value` to every waiter it satisfies. */
  observe(value: T): void {
    for (const waiter of this.pending) {
      if (waiter.matches(value)) {
        this.pending.delete(waiter);
        waiter.resolve(value);
      }
    }
  }
}
