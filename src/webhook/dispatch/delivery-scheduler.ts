import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { RepeatedPassLog } from '../../database/database-unavailable.js';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { DeliveryStore } from '../delivery-store.js';
import { THIS_PROCESS_DELIVERS } from './delivery-trigger.js';
import { PgDeliveryNotifier } from './pg-delivery-notifier.js';

/**
 * The longest the scheduler sleeps: work added by another process is seen within this (at once on
 * PostgreSQL, where that process announces it with NOTIFY; this poll is then the safety net).
 */
export const MAX_POLL_INTERVAL_MS = 1_000;
/** How long the scheduler gathers attempts that end before it claims for the room they freed. */
const ROOM_FREED_COALESCE_MS = 2;
/** The shortest, so a delivery that is due but still being claimed cannot make it spin. */
const MIN_POLL_INTERVAL_MS = 20;

/**
 * Without a queue, in a process that delivers: hands due deliveries to the dispatcher at start
 * (what a previous run left pending), when retries fall due, when a rate limit or a breaker
 * allows more, and whenever an attempt ends while its endpoint (or the process) has a backlog. It
 * claims never more than there are free slots, so memory stays flat with any backlog.
 */
@Injectable()
export class DeliveryScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DeliveryScheduler.name);
  private readonly passLog = new RepeatedPassLog(this.logger, 'Looking for due webhook deliveries');
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private wakingSoon = false;
  private pollAgain = false;
  private started = false;
  private stopped = false;

  constructor(
    @Inject(THIS_PROCESS_DELIVERS) private readonly delivers: boolean,
    private readonly store: DeliveryStore,
    private readonly dispatcher: DeliveryDispatcher,
    @Optional() private readonly notifier?: PgDeliveryNotifier,
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
    this.dispatcher.onRoomFreed(() => this.wakeSoon());
    this.notifier?.onAnnounced(() => this.wake());
    this.started = true;
    this.wake();
  }

  /** Look for due work now. */
  wake(): void {
    this.sleep(0);
  }

  /**
   * Look for due work in a moment: attempts that end close together (a backlog to a fast receiver
   * ends one every few hundred microseconds) share one claim instead of one claim each.
   */
  private wakeSoon(): void {
    if (this.wakingSoon || this.stopped) return; // a look is already due within the moment
    if (this.timer) clearTimeout(this.timer);
    this.wakingSoon = true;
    this.timer = setTimeout(() => {
      this.wakingSoon = false;
      void this.poll();
    }, ROOM_FREED_COALESCE_MS);
  }

  beforeApplicationShutdown(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private sleep(ms: number): void {
    if (this.stopped) return;
    // A look already due within the moment stays: it sets the next sleep itself.
    if (this.wakingSoon && ms >= ROOM_FREED_COALESCE_MS) return;
    this.wakingSoon = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.wakingSoon = false;
      void this.poll();
    }, ms);
  }

  private async poll(): Promise<void> {
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = true;
    let wakeAt: number | null = null;
    try {
      do {
        this.pollAgain = false;
        const free = this.dispatcher.slots.free;
        if (free === 0) return; // the next slot to free wakes us
        const { full, moreAt } = await this.dispatcher.launchDue(free);
        if (full) return; // more may be due: the next attempt to end wakes us
        wakeAt = moreAt;
      } while (this.pollAgain && !this.stopped);
      // What is due now was claimed, or waits for its endpoint's room (an attempt that ends
      // wakes us), its rate limit or its breaker (`wakeAt`).
      this.sleep(await this.untilNext(wakeAt));
      this.passLog.succeeded();
    } catch (error) {
      this.passLog.failed(error);
      this.sleep(MAX_POLL_INTERVAL_MS);
    } finally {
      this.polling = false;
    }
  }

  /** Until the next retry falls due or `wakeAt`, whichever is first, within the poll bounds. */
  private async untilNext(wakeAt: number | null): Promise<number> {
    const now = new Date();
    const nextDue = (await this.store.nextDueAfter(now))?.getTime() ?? Infinity;
    const next = Math.min(nextDue, wakeAt ?? Infinity);
    return Math.min(MAX_POLL_INTERVAL_MS, Math.max(MIN_POLL_INTERVAL_MS, next - now.getTime()));
  }
}
