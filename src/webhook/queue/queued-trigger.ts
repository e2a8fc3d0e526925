import { Inject, Injectable, Optional } from '@nestjs/common';
import type { DeliveryRef } from '../entities/webhook-delivery.entity.js';
import { DeliveryTrigger, THIS_PROCESS_DELIVERS } from '../dispatch/delivery-trigger.js';
import { DeliveryProcessor } from './delivery.processor.js';
import { DeliveryQueue } from './delivery-queue.js';

/**
 * With REDIS_URL: every attempt is a BullMQ job, run by whichever delivering process takes it. The
 * first attempts of a step are one job, enqueued right after the commit; if that enqueue is lost
 * (a crash, Redis away), a sweep in a delivering process puts each delivery on the queue.
 */
@Injectable()
export class QueuedTrigger extends DeliveryTrigger {
  constructor(
    @Inject(THIS_PROCESS_DELIVERS) private readonly delivers: boolean,
    private readonly queue: DeliveryQueue,
    @Optional() private readonly processor?: DeliveryProcessor,
  ) {
    super();
  }

  stepCommitted(stepId: string): Promise<void> {
    return this.queue.enqueueStep(stepId);
  }

  retryNow(deliveryId: string): Promise<void> {
    return this.queue.enqueueManual(deliveryId);
  }

  requeued(deliveries: DeliveryRef[]): Promise<void> {
    return this.queue.enqueue(deliveries);
  }

  async problem(): Promise<string | null> {
    const redis = await this.queue.problem();
    if (redis) return redis;
    if (this.delivers && !this.processor?.isRunning) return 'the delivery queue worker is stopped';
    return null;
  }
}
