import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { DeliveryStore } from './delivery-store.js';
import { WebhookSender } from './webhook-sender.js';

/** What every delivery setup shares: the records, the attempt runner and the HTTP sender. */
@Module({
  imports: [HttpModule],
  providers: [DeliveryStore, DeliveryDispatcher, WebhookSender],
  exports: [DeliveryStore, DeliveryDispatcher],
})
export class DeliveryCoreModule {}
