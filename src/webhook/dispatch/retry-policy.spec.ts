import { RetryPolicy } from './retry-policy.js';
import type { AttemptResult } from '../sender/webhook-sender.js';

const failure = (statusCode: number | null, retryAfterMs: number | null = null): AttemptResult => ({
  outcome: statusCode === null ? 'network_error' : 'http_error',
  statusCode,
  durationMs: 1,
  error: 'x',
  responseSnippet: null,
  retryAfterMs,
});

describe(RetryPolicy.name, () => {
  it('follows the schedule with ±20% jitter and gives up when it runs out', () => {
    const low = new RetryPolicy([1000, 5000], () => 0);
    const high = new RetryPolicy([1000, 5000], () => 1);

    expect(low.delayAfter(1, failure(500))).toBe(800);
    expect(high.delayAfter(1, failure(500))).toBe(1200);
    expect(low.delayAfter(2, failure(null))).toBe(4000);
    expect(high.delayAfter(2, failure(null))).toBe(6000);
    expect(low.delayAfter(3, failure(500))).toBeNull();
  });

  it('never retries after 410 Gone, or at all with an empty schedule', () => {
    expect(new RetryPolicy([1000]).delayAfter(1, failure(410))).toBeNull();
    expect(new RetryPolicy([]).delayAfter(1, failure(500))).toBeNull();
  });

  it('honours Retry-After on 429 and 503 within [delay, 2 × delay]', () => {
    const sut = new RetryPolicy([1000], () => 0.5);

    expect(sut.delayAfter(1, failure(503, 1500))).toBe(1500);
    expect(sut.delayAfter(1, failure(429, 60_000))).toBe(2000);
    expect(sut.delayAfter(1, failure(503, 10))).toBe(1000);
    expect(sut.delayAfter(1, failure(500, 1500))).toBe(1000);
  });

  describe('verdict', () => {
    const success: AttemptResult = { ...failure(200), outcome: 'success' };
    const pending = { status: 'pending' as const, schedulePosition: 0 };
    const sut = new RetryPolicy([1000], () => 0.5);

    it('delivers on success, schedules the next retry, and fails once the schedule runs out', () => {
      expect(sut.verdict(pending, success, false)).toEqual({ status: 'delivered' });
      expect(sut.verdict(pending, failure(500), false, 0)).toEqual({
        status: 'pending',
        schedulePosition: 1,
        nextAttemptAt: new Date(1000),
      });
      expect(sut.verdict({ status: 'pending', schedulePosition: 1 }, failure(500), false)).toEqual({
        status: 'failed',
        schedulePosition: 2,
      });
    });

    it('never makes a finished delivery worse on a failed manual attempt', () => {
      expect(sut.verdict({ status: 'delivered', schedulePosition: 0 }, failure(500), true)).toEqual(
        { status: 'delivered' },
      );
      expect(sut.verdict({ status: 'failed', schedulePosition: 1 }, failure(500), true)).toEqual({
        status: 'failed',
        schedulePosition: 1,
      });
      expect(sut.verdict({ status: 'failed', schedulePosition: 1 }, success, true)).toEqual({
        status: 'delivered',
      });
    });
  });
});
