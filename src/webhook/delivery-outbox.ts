import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { webhookConfig } from '../config/webhook.config.js';
import type { WebhookConfig } from '../config/webhook.config.js';
import { TransactionalListeners } from '../database/transactional-listeners.js';
import { STEP_COMPLETED, StepCompletedEvent } from '../steps/events/step-completed.event.js';
import { DeliveryStore } from './delivery-store.js';
import { buildWebhookBody } from './webhook-payload.js';

/**
 * The transactional outbox: while a webhook URL is configured, every terminal transition writes its
 * pending delivery in the same transaction as the status. A crash after the commit cannot lose it.
 */
@Injectable()
export class DeliveryOutbox implements OnModuleInit {
  constructor(
    @Inject(webhookConfig.KEY) private readonly config: WebhookConfig,
    private readonly listeners: TransactionalListeners,
    private readonly store: DeliveryStore,
  ) {}

  onModuleInit(): void {
    if (!this.config.url) return;
    this.listeners.listen<StepCompletedEvent>(STEP_COMPLETED, async (event, manager) => {
      const now = new Date();
      await this.store.createPending(
        manager,
        event.stepId,
        buildWebhookBody(event, this.config.payload, now),
        now,
      );
    });
  }
}
