import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { RepeatedPassLog } from '../../database/database-unavailable.js';
import { DeliveryStore } from '../delivery-store.js';
import { DeliveryQueue } from './delivery-queue.js';

/** How often a delivering process looks for due deliveries that have no job. */
const SWEEP_INTERVAL_MS = 5_000;
/** How long past due a free delivery must be before a sweep re-enqueues it. */
const SWEEP_GRACE_MS = 10_000;
const SWEEP_PAGE = 500;

/**
 * The safety net under the queue: a process can die between a commit and its enqueue, or holding a
 * job, and Redis can lose what it held. Every few seconds this re-enqueues pending deliveries that
 * are overdue and claimed by nobody; the job id deduplicates them against jobs that still wait.
 */
@Injectable()
export class DeliverySweeper implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DeliverySweeper.name);
  private readonly passLog = new RepeatedPassLog(
    this.logger,
    'Sweeping for overdue webhook deliveries',
  );
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: DeliveryStore,
    private readonly queue: DeliveryQueue,
  ) {}

  onApplicationBootstrap(): void {
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
  }

  beforeApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async sweep(): Promise<number> {
    try {
      const now = new Date();
      const overdue = await this.store.findUnclaimedDue(
        now,
        new Date(now.getTime() - SWEEP_GRACE_MS),
        SWEEP_PAGE,
      );
      await this.queue.enqueue(overdue);
      if (overdue.length > 0) {
        this.logger.debug(`Re-enqueued ${overdue.length} overdue webhook delivery(ies)`);
      }
      this.passLog.succeeded();
      return overdue.length;
    } catch (error) {
      this.passLog.failed(error);
      return 0;
    }
  }
}
