import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { RepeatedPassLog } from '../../database/database-unavailable.js';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { DeliveryStore } from '../delivery-store.js';
import { THIS_PROCESS_DELIVERS } from './delivery-trigger.js';

/** The longest the scheduler sleeps: work added by another process is seen within this. */
export const MAX_POLL_INTERVAL_MS = 1_000;
/** The shortest, so a delivery that is due but still being claimed cannot make it spin. */
const MIN_POLL_INTERVAL_MS = 20;

/**
 * Without a queue, in a process that delivers: hands due deliveries to the dispatcher at start
 * (what a previous run left pending), when retries fall due, and whenever a slot frees while a
 * backlog waits. It reads one page of due ids at a
 * time, never more than there are free slots, so memory stays flat with any backlog.
 */
@Injectable()
export class DeliveryScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DeliveryScheduler.name);
  private readonly passLog = new RepeatedPassLog(this.logger, 'Looking for due webhook deliveries');
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private pollAgain = false;
  private started = false;
  private stopped = false;

  constructor(
    @Inject(THIS_PROCESS_DELIVERS) private readonly delivers: boolean,
    private readonly store: DeliveryStore,
    private readonly dispatcher: DeliveryDispatcher,
  ) {}

  /** Started (or with nothing to deliver here), and not stopped. */
  get running(): boolean {
    return (this.started || !this.delivers) && !this.stopped;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.delivers) return;
    const released = await this.store.releaseLeftLeases();
    if (released > 0)
      this.logger.warn(`Resuming ${released} webhook attempt(s) interrupted by the last stop`);
    this.dispatcher.slots.onFreed(() => this.wake());
    this.started = true;
    this.wake();
  }

  /** Look for due work now. */
  wake(): void {
    this.sleep(0);
  }

  beforeApplicationShutdown(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private sleep(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), ms);
  }

  private async poll(): Promise<void> {
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = true;
    try {
      do {
        this.pollAgain = false;
        const free = this.dispatcher.slots.free;
        if (free === 0) return; // the next slot to free wakes us
        const launched = await this.dispatcher.launchDue(free);
        if (launched === free) return; // more may be due: the next slot to free wakes us
      } while (this.pollAgain && !this.stopped);
      this.sleep(await this.untilNextDue());
      this.passLog.succeeded();
    } catch (error) {
      this.passLog.failed(error);
      this.sleep(MAX_POLL_INTERVAL_MS);
    } finally {
      this.polling = false;
    }
  }

  private async untilNextDue(): Promise<number> {
    const next = await this.store.nextDueAt();
    if (!next) return MAX_POLL_INTERVAL_MS;
    return Math.min(
      MAX_POLL_INTERVAL_MS,
      Math.max(MIN_POLL_INTERVAL_MS, next.getTime() - Date.now()),
    );
  }
}
