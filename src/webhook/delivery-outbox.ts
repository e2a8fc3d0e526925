import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { webhookConfig } from '../config/webhook.config.js';
import type { WebhookConfig } from '../config/webhook.config.js';
import { TransactionalListeners } from '../database/transactional-listeners.js';
import { TransactionRunner } from '../database/transaction-runner.js';
import { STEP_COMPLETED, StepCompletedEvent } from '../steps/events/step-completed.event.js';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { DeliveryStore } from './delivery-store.js';
import { buildWebhookBody } from './webhook-payload.js';

/**
 * The transactional outbox: while a webhook URL is configured, every terminal transition writes its
 * pending delivery in the same transaction as the status. A crash after the commit cannot lose it.
 * When the dispatcher has a free slot, the row is written already leased to it, so the first attempt
 * starts right after the commit without a claim; a crash before it ends leaves a lease that runs out.
 */
@Injectable()
export class DeliveryOutbox implements OnModuleInit {
  constructor(
    @Inject(webhookConfig.KEY) private readonly config: WebhookConfig,
    private readonly listeners: TransactionalListeners,
    private readonly transactions: TransactionRunner,
    private readonly store: DeliveryStore,
    private readonly dispatcher: DeliveryDispatcher,
  ) {}

  onModuleInit(): void {
    if (!this.config.url) return;
    this.listeners.listen<StepCompletedEvent>(STEP_COMPLETED, async (event, manager) => {
      const now = new Date();
      // Born leased to this process's dispatcher when it has a free slot: no claim after the commit.
      const leaseUntil = this.dispatcher.reserveHandoff(event.stepId);
      if (leaseUntil) {
        this.transactions.onRollback(manager, () => this.dispatcher.cancelHandoff(event.stepId));
      }
      const delivery = await this.store.createPending(
        manager,
        event.stepId,
        buildWebhookBody(event, this.config.payload, now),
        now,
        leaseUntil,
      );
      if (leaseUntil) this.dispatcher.holdHandoff(delivery);
    });
  }
}
