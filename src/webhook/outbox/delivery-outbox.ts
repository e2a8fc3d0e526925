import { Inject, Injectable, Logger } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import type { EntityManager } from 'typeorm';
import { webhookConfig } from '../../config/webhook.config.js';
import type { WebhookConfig } from '../../config/webhook.config.js';
import { OnEventInTransaction } from '../../database/transactional-events.js';
import { STEP_COMPLETED, StepCompletedEvent } from '../../steps/events/step-completed.event.js';
import { DeliveryStore } from '../delivery-store.js';
import { DeliveryTrigger } from '../dispatch/delivery-trigger.js';
import { buildWebhookBody } from './webhook-payload.js';

/**
 * The transactional outbox, where `step.completed` becomes webhook deliveries. Inside the
 * transition's transaction it writes the pending delivery with the status, so a crash after the
 * commit cannot lose it; after the commit it hands the step to the `DeliveryTrigger`, which starts
 * the first attempt (here or through the queue). If that start is lost, the delivery still waits in
 * the database for the scheduler or the queue's sweep.
 */
@Injectable()
export class DeliveryOutbox {
  private readonly logger = new Logger(DeliveryOutbox.name);

  constructor(
    @Inject(webhookConfig.KEY) private readonly config: WebhookConfig,
    private readonly store: DeliveryStore,
    private readonly trigger: DeliveryTrigger,
  ) {}

  @OnEventInTransaction(STEP_COMPLETED)
  async writeDelivery(event: StepCompletedEvent, manager: EntityManager): Promise<void> {
    if (!this.config.url) return;
    const now = new Date();
    await this.store.createPending(
      manager,
      event.stepId,
      buildWebhookBody(event, this.config.payload, now),
      now,
    );
  }

  /** `async`: runs after the emitting call returns, so the step never waits for its webhook. */
  @OnEvent(STEP_COMPLETED, { async: true, promisify: true })
  async startDelivery(event: StepCompletedEvent): Promise<void> {
    if (!this.config.url) {
      this.logger.debug(
        `Step ${event.stepId} is ${event.status}; STEP_COMPLETE_WEBHOOK is empty, so no webhook is sent`,
        { step_id: event.stepId },
      );
      return;
    }
    try {
      await this.trigger.stepCommitted(event.stepId);
    } catch (error) {
      this.logger.warn(
        `Could not start the webhook for step ${event.stepId} right away (${String(error)}); ` +
          'its delivery waits in the database, where the scheduler or the queue sweep finds it',
        { step_id: event.stepId },
      );
    }
  }
}
