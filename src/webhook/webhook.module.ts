import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { DeliveriesController, StepDeliveriesController } from './deliveries.controller.js';
import { DeliveriesService } from './deliveries.service.js';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { DeliveryOutbox } from './delivery-outbox.js';
import { DeliveryScheduler } from './delivery-scheduler.js';
import { DeliveryStore } from './delivery-store.js';
import { StepCompletedListener } from './step-completed.listener.js';
import { WebhookSender } from './webhook-sender.js';

/**
 * Delivers the step-completion webhook durably: the outbox records a delivery with each terminal
 * transition, the listener makes the first attempt right after the commit, the scheduler retries
 * and resumes, and the controllers show and replay deliveries.
 */
@Module({
  imports: [HttpModule],
  controllers: [DeliveriesController, StepDeliveriesController],
  providers: [
    DeliveryOutbox,
    DeliveryStore,
    DeliveryDispatcher,
    DeliveryScheduler,
    DeliveriesService,
    StepCompletedListener,
    WebhookSender,
  ],
  exports: [DeliveryScheduler],
})
export class WebhookModule {}
