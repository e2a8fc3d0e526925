import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { THIS_PROCESS_DELIVERS } from '../delivery-tokens.js';
import { DeliveryTrigger } from '../delivery-trigger.js';
import type { WebhookDelivery } from '../entities/webhook-delivery.entity.js';
import { DeliveryProcessor } from './delivery.processor.js';
import { DeliveryQueue } from './delivery-queue.js';

/**
 * With REDIS_URL: every attempt is a BullMQ job, run by whichever delivering process takes it. The
 * first is enqueued right after the commit; if that enqueue is lost (a crash, Redis away), a sweep
 * in a delivering process puts it on the queue again.
 */
@Injectable()
export class QueuedTrigger extends DeliveryTrigger {
  private readonly logger = new Logger(QueuedTrigger.name);

  constructor(
    @Inject(THIS_PROCESS_DELIVERS) private readonly delivers: boolean,
    private readonly queue: DeliveryQueue,
    @Optional() private readonly processor?: DeliveryProcessor,
  ) {
    super();
  }

  reserve(): Date | null {
    return null;
  }

  release(): void {}

  async committed(delivery: WebhookDelivery): Promise<void> {
    try {
      await this.queue.enqueue([delivery]);
    } catch (error) {
      this.logger.warn(
        `Could not enqueue webhook delivery ${delivery.id}; a sweep will: ${String(error)}`,
        { step_id: delivery.stepId, delivery_id: delivery.id },
      );
    }
  }

  retryNow(deliveryId: string): Promise<void> {
    return this.queue.enqueueManual(deliveryId);
  }

  requeued(deliveries: Pick<WebhookDelivery, 'id' | 'attemptCount'>[]): Promise<void> {
    return this.queue.enqueue(deliveries);
  }

  async problem(): Promise<string | null> {
    const redis = await this.queue.problem();
    if (redis) return redis;
    if (this.delivers && !this.processor?.isRunning) return 'the delivery queue worker is stopped';
    return null;
  }
}
