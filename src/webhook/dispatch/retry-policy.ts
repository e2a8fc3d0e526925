import type { WebhookDelivery } from '../entities/webhook-delivery.entity.js';
import type { AttemptResult } from '../sender/webhook-sender.js';

/** ±20% around each scheduled delay, so a receiver's outage does not end in a thundering herd. */
const JITTER = 0.2;
const HONOURS_RETRY_AFTER = new Set([429, 503]);

/** What an attempt leads to: done, given up, or another try at `nextAttemptAt`. */
export type DeliveryVerdict =
  | { status: 'delivered' }
  | { status: 'failed'; schedulePosition: number }
  | { status: 'pending'; schedulePosition: number; nextAttemptAt: Date };

/**
 * Every retry decision, in one place. After an attempt, `verdict` says what becomes of the
 * delivery: the delay before retry n is the n-th entry of the schedule with jitter; a `Retry-After`
 * on 429/503 is honoured within [delay, 2 × delay]; `410 Gone` and an exhausted schedule mean give
 * up; an operator's manual attempt never makes a finished delivery worse. Who runs the next attempt
 * when it falls due (the scheduler, or a delayed queue job) only follows `nextAttemptAt`.
 */
export class RetryPolicy {
  constructor(
    private readonly scheduleMs: readonly number[],
    private readonly random: () => number = Math.random,
  ) {}

  verdict(
    delivery: Pick<WebhookDelivery, 'status' | 'schedulePosition'>,
    result: AttemptResult,
    manual: boolean,
    now = Date.now(),
  ): DeliveryVerdict {
    if (result.outcome === 'success') return { status: 'delivered' };
    if (manual && delivery.status !== 'pending') {
      return delivery.status === 'delivered'
        ? { status: 'delivered' }
        : { status: 'failed', schedulePosition: delivery.schedulePosition };
    }
    const position = delivery.schedulePosition + 1;
    const delayMs = this.delayAfter(position, result);
    return delayMs === null
      ? { status: 'failed', schedulePosition: position }
      : { status: 'pending', schedulePosition: position, nextAttemptAt: new Date(now + delayMs) };
  }

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
