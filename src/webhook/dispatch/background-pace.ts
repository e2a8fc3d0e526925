import { IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

/** The delay histogram's sampling timer; what it records includes this. */
const RESOLUTION_MS = 5;
/** How often the event loop's delay is read and the budget adjusted. */
const ADJUST_EVERY_MS = 100;
/** Above this p99 delay of the event loop (over one reading) the budget halves… */
const LAG_HIGH_MS = 4;
/** …and below this one it grows by one attempt. */
const LAG_LOW_MS = 2;
/** How long after the last first attempt the process counts as serving live traffic. */
const LIVE_FOR_MS = 1_000;

/**
 * How many background attempts (backlogs and retries, which the scheduler claims) may be in flight
 * while first attempts of new transitions are being made. A backlog that drains to a fast receiver
 * is bounded by the CPU, not by its slots; left alone it keeps the event loop busy, and every other
 * endpoint's first attempt, and every terminal call, waits behind it. So while live traffic flows
 * the budget follows the event loop's delay — halved when it is high, one more when it is low
 * (AIMD) — and backlogs drain with what the live traffic leaves. Without live traffic the budget
 * is every slot.
 */
export class BackgroundPace {
  private readonly delay: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private readonly timer: NodeJS.Timeout;
  private budget: number;
  private lastLiveAt = 0;

  constructor(private readonly slots: number) {
    this.budget = slots;
    this.delay.enable();
    this.timer = setInterval(() => this.adjust(), ADJUST_EVERY_MS);
    this.timer.unref();
  }

  /** First attempts of new transitions were just claimed. */
  live(): void {
    this.lastLiveAt = Date.now();
  }

  /** How many background attempts may be in flight now. */
  get allowance(): number {
    return Date.now() - this.lastLiveAt < LIVE_FOR_MS ? this.budget : this.slots;
  }

  close(): void {
    clearInterval(this.timer);
    this.delay.disable();
  }

  private adjust(): void {
    const p99Ms = this.delay.percentile(99) / 1e6 - RESOLUTION_MS;
    this.delay.reset();
    if (p99Ms > LAG_HIGH_MS) this.budget = Math.max(1, Math.floor(this.budget / 2));
    else if (p99Ms < LAG_LOW_MS) this.budget = Math.min(this.slots, this.budget + 1);
  }
}
