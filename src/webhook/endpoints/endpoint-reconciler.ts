import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { RepeatedPassLog } from '../../database/database-unavailable.js';
import { DeliveryStore } from '../delivery-store.js';
import { ENDPOINT_DELETED } from '../entities/webhook-delivery.entity.js';
import { DeliveryTrigger, THIS_PROCESS_DELIVERS } from '../dispatch/delivery-trigger.js';

/** How often a delivering process looks for deliveries whose state disagrees with their endpoint. */
export const RECONCILE_INTERVAL_MS = 60_000;

/**
 * The safety net under `endpoint-locks.ts`: once at start and then every RECONCILE_INTERVAL_MS,
 * every delivery whose state disagrees with its endpoint's committed state is repaired (held of an
 * enabled endpoint → pending, pending of a disabled one → held, either of a deleted one → failed).
 * The locks make such rows impossible in normal running; this repairs what an older version, a
 * manual edit or a fault left, so nothing can stay held for good. Finding any is worth a warning.
 */
@Injectable()
export class EndpointReconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(EndpointReconciler.name);
  private readonly passLog = new RepeatedPassLog(
    this.logger,
    'Reconciling deliveries with their endpoints',
  );
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(THIS_PROCESS_DELIVERS) private readonly delivers: boolean,
    private readonly store: DeliveryStore,
    private readonly trigger: DeliveryTrigger,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.delivers) return;
    void this.reconcile();
    this.timer = setInterval(() => void this.reconcile(), RECONCILE_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One pass; what it repaired (also logged). */
  async reconcile(): Promise<{ released: number; held: number; failed: number } | null> {
    try {
      const { released, held, failed } = await this.store.reconcile(ENDPOINT_DELETED, new Date());
      this.passLog.succeeded();
      if (released.length + held + failed > 0) {
        this.logger.warn(
          `Deliveries out of step with their endpoints were repaired: ${released.length} released ` +
            `(endpoint enabled), ${held} held (endpoint disabled), ${failed} failed (endpoint deleted)`,
        );
      }
      if (released.length > 0) await this.trigger.requeued(released);
      return { released: released.length, held, failed };
    } catch (error) {
      this.passLog.failed(error);
      return null;
    }
  }
}
