import type { AttemptResult } from './webhook-sender.js';

/** ±20% around each scheduled delay, so a receiver's outage does not end in a thundering herd. */
const JITTER = 0.2;
const HONOURS_RETRY_AFTER = new Set([429, 503]);

/**
 * When to try a failed delivery again, if ever. The delay before retry n is the n-th entry of the
 * schedule with jitter; a `Retry-After` on 429/503 is honoured within [delay, 2 × delay]; `410 Gone`
 * and an exhausted schedule mean never.
 */
export class RetryPolicy {
  constructor(
    private readonly scheduleMs: readonly number[],
    private readonly random: () => number = Math.random,
  ) {}

  /** Milliseconds until the next attempt after failed attempt number `attempt` (1-based), or null to give up. */
  delayAfter(attempt: number, result: AttemptResult): number | null {
    if (result.statusCode === 410) return null;
    const scheduled = this.scheduleMs[attempt - 1];
    if (scheduled === undefined) return null;
    if (
      result.statusCode !== null &&
      HONOURS_RETRY_AFTER.has(result.statusCode) &&
      result.retryAfterMs !== null
    ) {
      return Math.min(Math.max(result.retryAfterMs, scheduled), 2 * scheduled);
    }
    return Math.round(scheduled * (1 - JITTER + 2 * JITTER * this.random()));
  }
}
