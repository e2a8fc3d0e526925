import { IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

/** The delay histogram's sampling timer; what it records includes this. */
const RESOLUTION_MS = 5;
/** How often the event loop's delay is read and the pace adjusted. */
const ADJUST_EVERY_MS = 100;
/** Above this p99 delay of the event loop (over one reading) the pace halves… */
const LAG_HIGH_MS = 3;
/** …and below this one it grows. */
const LAG_LOW_MS = 1;
/** The slowest and the first pace, in background attempts per second while live traffic flows. */
export const MIN_PER_SECOND = 20;
/** How much the pace grows per quiet reading. */
const STEP_PER_SECOND = 20;
/** How long after the last first attempt the process counts as serving live traffic. */
const LIVE_FOR_MS = 1_000;

/**
 * How many background attempts (backlogs and retries, which the scheduler claims) may start, while
 * first attempts of new transitions are being made. A backlog that drains to a fast receiver is
 * bounded by the CPU, not by its slots; left alone it keeps the event loop busy, and every other
 * endpoint's first attempt, and every terminal call, waits behind it. So while live traffic flows
 * background attempts start at a pace (per second) that follows the event loop's delay — halved
 * when it lags, grown when it is quiet (AIMD) — and backlogs drain with what the live traffic
 * leaves. Without live traffic there is no pace: every free slot.
 */
export class BackgroundPace {
  private readonly delay: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private readonly timer: NodeJS.Timeout;
  private perSecond = MIN_PER_SECOND;
  private tokens = Math.max(1, MIN_PER_SECOND / 10);
  private refilledAt = Date.now();
  private lastLiveAt = 0;

  constructor() {
    this.delay.enable();
    this.timer = setInterval(() => this.adjust(), ADJUST_EVERY_MS);
    this.timer.unref();
  }

  /** First attempts of new transitions were just claimed. */
  live(): void {
    this.lastLiveAt = Date.now();
  }

  /** Background attempts per second while pacing. */
  get pace(): number {
    return this.perSecond;
  }

  /** Whether the pace applies now. */
  get pacing(): boolean {
    return Date.now() - this.lastLiveAt < LIVE_FOR_MS;
  }

  /** How many of `wanted` background attempts may start now (all, when not pacing). */
  allow(wanted: number): number {
    if (!this.pacing) return wanted;
    this.refill();
    const granted = Math.min(wanted, Math.floor(this.tokens));
    this.tokens -= granted;
    return granted;
  }

  /** Background attempts that were allowed but not started (nothing was due). */
  giveBack(count: number): void {
    this.tokens += count;
  }

  close(): void {
    clearInterval(this.timer);
    this.delay.disable();
  }

  private refill(): void {
    const now = Date.now();
    // At most a tenth of a second's worth saved up: no burst after a pause.
    this.tokens = Math.min(
      Math.max(1, this.perSecond / 10),
      this.tokens + ((now - this.refilledAt) * this.perSecond) / 1000,
    );
    this.refilledAt = now;
  }

  private adjust(): void {
    const lagMs = this.delay.percentile(99) / 1e6 - RESOLUTION_MS;
    this.delay.reset();
    this.follow(lagMs);
  }

  /** One reading of the event loop's p99 delay (ms beyond its timer): the pace follows it. */
  follow(lagMs: number): void {
    this.refill();
    if (lagMs > LAG_HIGH_MS) this.perSecond = Math.max(MIN_PER_SECOND, this.perSecond / 2);
    else if (lagMs < LAG_LOW_MS) this.perSecond += STEP_PER_SECOND;
  }
}
