import { Inject, Injectable } from '@nestjs/common';
import { DomainError } from '../common/domain-error.js';
import { webhookConfig } from '../config/webhook.config.js';
import type { WebhookConfig } from '../config/webhook.config.js';
import { DeliveryStore, DeliveryWithAttempts } from './delivery-store.js';
import { DeliveryTrigger } from './delivery-trigger.js';

export class DeliveryNotFoundError extends DomainError {
  constructor(id: string) {
    super('not_found', `Webhook delivery ${id} not found`);
  }
}

export class NotificationsOffError extends DomainError {
  constructor() {
    super('conflict', 'STEP_COMPLETE_WEBHOOK is empty: there is no receiver to send to');
  }
}

/** What operators do with deliveries: look, retry one now, recover failures after an outage. */
@Injectable()
export class DeliveriesService {
  constructor(
    @Inject(webhookConfig.KEY) private readonly config: WebhookConfig,
    private readonly store: DeliveryStore,
    private readonly trigger: DeliveryTrigger,
  ) {}

  async findOne(id: string): Promise<DeliveryWithAttempts> {
    const delivery = await this.store.findOne(id);
    if (!delivery) throw new DeliveryNotFoundError(id);
    return delivery;
  }

  /** One more attempt now, whatever the delivery's state; the attempt runs after the answer. */
  async retryNow(id: string): Promise<DeliveryWithAttempts> {
    if (!this.config.url) throw new NotificationsOffError();
    const delivery = await this.findOne(id);
    await this.trigger.retryNow(id);
    return delivery;
  }

  async recoverFailedSince(since: string): Promise<number> {
    const requeued = await this.store.requeueFailedSince(since);
    if (requeued.length > 0) await this.trigger.requeued(requeued);
    return requeued.length;
  }
}
