import { DynamicModule, Module } from '@nestjs/common';
import type { DeliveryConfig } from '../config/delivery.config.js';
import { DeliveriesController, StepDeliveriesController } from './deliveries.controller.js';
import { DeliveriesService } from './deliveries.service.js';
import { DeliveryEngineModule } from './delivery-engine.module.js';
import { DeliveryOutbox } from './delivery-outbox.js';
import { StepCompletedListener } from './step-completed.listener.js';

/**
 * Delivers the step-completion webhook durably: the outbox records a delivery with each terminal
 * transition, the listener starts its first attempt right after the commit (here or through the
 * queue), and the controllers show and replay deliveries. Exports the `DeliveryTrigger`, which
 * /ready asks whether deliveries are being processed (HealthModule imports this same module).
 */
@Module({})
export class WebhookModule {
  static register(delivery: DeliveryConfig): DynamicModule {
    return {
      module: WebhookModule,
      imports: [DeliveryEngineModule.register(delivery, delivery.worker)],
      controllers: [DeliveriesController, StepDeliveriesController],
      providers: [DeliveryOutbox, DeliveriesService, StepCompletedListener],
      exports: [DeliveryEngineModule],
    };
  }
}
