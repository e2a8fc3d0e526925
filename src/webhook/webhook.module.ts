import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { StepCompletedListener } from './step-completed.listener.js';
import { WebhookSender } from './webhook-sender.js';

/** Listens for `step.completed` and delivers the step-completion webhook. */
@Module({
  imports: [HttpModule],
  providers: [StepCompletedListener, DeliveryDispatcher, WebhookSender],
})
export class WebhookModule {}
