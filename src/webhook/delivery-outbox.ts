import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { webhookConfig } from '../config/webhook.config.js';
import type { WebhookConfig } from '../config/webhook.config.js';
import { TransactionalListeners } from '../database/transactional-listeners.js';
import { TransactionRunner } from '../database/transaction-runner.js';
import { STEP_COMPLETED, StepCompletedEvent } from '../steps/events/step-completed.event.js';
import { DeliveryStore } from './delivery-store.js';
import { DeliveryTrigger } from './delivery-trigger.js';
import type { WebhookDelivery } from './entities/webhook-delivery.entity.js';
import { buildWebhookBody } from './webhook-payload.js';

/**
 * The transactional outbox: while a webhook URL is configured, every terminal transition writes its
 * pending delivery in the same transaction as the status. A crash after the commit cannot lose it.
 * When this process can take the first attempt at once, the row is written already leased to it,
 * so no claim is needed after the commit; a crash before it ends leaves a lease that runs out.
 * Deliveries written here wait for their commit's announcement (`committed`) to start.
 */
@Injectable()
export class DeliveryOutbox implements OnModuleInit {
  private readonly logger = new Logger(DeliveryOutbox.name);
  private readonly written = new Map<string, WebhookDelivery>();

  constructor(
    @Inject(webhookConfig.KEY) private readonly config: WebhookConfig,
    private readonly listeners: TransactionalListeners,
    private readonly transactions: TransactionRunner,
    private readonly store: DeliveryStore,
    private readonly trigger: DeliveryTrigger,
  ) {}

  onModuleInit(): void {
    if (!this.config.url) return;
    this.listeners.listen<StepCompletedEvent>(STEP_COMPLETED, async (event, manager) => {
      const now = new Date();
      const leaseUntil = this.trigger.reserve();
      this.transactions.onRollback(manager, () => {
        this.written.delete(event.stepId);
        if (leaseUntil) this.trigger.release();
      });
      const delivery = await this.store.createPending(
        manager,
        event.stepId,
        buildWebhookBody(event, this.config.payload, now),
        now,
        leaseUntil,
      );
      this.written.set(event.stepId, delivery);
    });
  }

  /** After the step's commit: starts the first attempt of the delivery written with it. */
  async committed(event: StepCompletedEvent): Promise<void> {
    const delivery = this.written.get(event.stepId);
    this.written.delete(event.stepId);
    if (!delivery) {
      this.logger.debug(
        `Step ${event.stepId} is ${event.status}; STEP_COMPLETE_WEBHOOK is empty, so no webhook is sent`,
        { step_id: event.stepId },
      );
      return;
    }
    await this.trigger.committed(delivery);
  }
}
