import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DeliveryConfig } from '../config/delivery.config.js';
import {
  DeliveriesController,
  StepDeliveriesController,
} from './deliveries/deliveries.controller.js';
import { DeliveriesService } from './deliveries/deliveries.service.js';
import { DeliveryReads } from './deliveries/delivery-reads.js';
import { DeliveryEngineModule } from './delivery-engine.module.js';
import { DeliveryAttempt } from './entities/delivery-attempt.entity.js';
import { WebhookDelivery } from './entities/webhook-delivery.entity.js';
import { EndpointsController } from './endpoints/endpoints.controller.js';
import { EndpointsService } from './endpoints/endpoints.service.js';
import { WebhookEndpoint } from './endpoints/entities/webhook-endpoint.entity.js';
import { WebhookEndpointThrottle } from './endpoints/entities/webhook-endpoint-throttle.entity.js';
import { DeliveryOutbox } from './outbox/delivery-outbox.js';

/**
 * Delivers the step-completion webhook durably: the outbox writes a delivery with each terminal
 * transition and starts its first attempt after the commit; the engine claims, sends, records and
 * retries; the operator routes show and replay deliveries. Exports the engine, whose
 * `DeliveryTrigger` /ready asks (HealthModule imports this same module instance).
 */
@Module({})
export class WebhookModule {
  static register(delivery: DeliveryConfig): DynamicModule {
    return {
      module: WebhookModule,
      imports: [
        TypeOrmModule.forFeature([
          WebhookDelivery,
          DeliveryAttempt,
          WebhookEndpoint,
          WebhookEndpointThrottle,
        ]),
        DeliveryEngineModule.register(delivery, delivery.worker),
      ],
      controllers: [DeliveriesController, StepDeliveriesController, EndpointsController],
      providers: [DeliveryOutbox, DeliveriesService, DeliveryReads, EndpointsService],
      exports: [DeliveryEngineModule],
    };
  }
}
