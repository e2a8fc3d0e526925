import { Injectable } from '@nestjs/common';

/** SPEC §6: a stop exits within this long of the signal. */
export const STOP_WITHIN_MS = 10_000;
/**
 * Attempts in flight may finish until this long after the signal; the rest of STOP_WITHIN_MS is for
 * closing connections and sending the buffered spans.
 */
export const DRAIN_WITHIN_MS = 8_500;

/**
 * The one deadline of a stop, counted from the signal: stop-gracefully.ts sets it when the signal
 * arrives, and whatever drains work before the close (the dispatcher, the queue worker) reads it,
 * so their waits add up to one bound instead of one each. A close without a signal (tests, a failed
 * start) drains for DRAIN_WITHIN_MS from the first time it is asked.
 */
@Injectable()
export class StopDeadline {
  private drainEndsAt: number | null = null;

  /** The signal arrived at `at` (`performance.now()`). */
  signalled(at: number): void {
    this.drainEndsAt ??= at + DRAIN_WITHIN_MS;
  }

  /** How long work in flight may still run, in ms (0 once the drain deadline has passed). */
  drainMsLeft(): number {
    this.drainEndsAt ??= performance.now() + DRAIN_WITHIN_MS;
    return Math.max(0, Math.floor(this.drainEndsAt - performance.now()));
  }

  /** Waits for `work` until the drain deadline: true if it finished in time. */
  async drainWithin(work: Promise<unknown>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.drainMsLeft());
    });
    try {
      return await Promise.race([work.then(finished, finished), late]);
    } finally {
      clearTimeout(timer);
    }
  }
}

const finished = (): true => true;
