import { DynamicModule, Module } from '@nestjs/common';
import type { DeliveryConfig } from '../config/delivery.config.js';
import {
  DeliveriesController,
  StepDeliveriesController,
} from './deliveries/deliveries.controller.js';
import { DeliveriesService } from './deliveries/deliveries.service.js';
import { DeliveryReads } from './deliveries/delivery-reads.js';
import { DeliveryEngineModule } from './delivery-engine.module.js';
import { EndpointsController } from './endpoints/endpoints.controller.js';
import { EndpointsService } from './endpoints/endpoints.service.js';
import { STEP_COMPLETION_OUTBOX } from '../steps/step-completion-outbox.js';
import { DeliveryOutbox } from './outbox/delivery-outbox.js';

/**
 * Delivers the step-completion webhook durably: the outbox (StepsModule's StepCompletionOutbox
 * port, exported as STEP_COMPLETION_OUTBOX) writes a delivery with each terminal transition and
 * starts its first attempt after the commit; the engine claims, sends, records and
 * retries; the operator routes show and replay deliveries. Exports the engine, whose
 * `DeliveryTrigger` /ready asks (HealthModule imports this same module instance).
 */
@Module({})
export class WebhookModule {
  static register(delivery: DeliveryConfig): DynamicModule {
    return {
      module: WebhookModule,
      // The engine registers the webhook entities and exports their repositories.
      imports: [DeliveryEngineModule.register(delivery, delivery.worker)],
      controllers: [DeliveriesController, StepDeliveriesController, EndpointsController],
      providers: [
        DeliveryOutbox,
        // StepsModule's port: the deliveries that commit with a step's transition.
        { provide: STEP_COMPLETION_OUTBOX, useExisting: DeliveryOutbox },
        DeliveriesService,
        DeliveryReads,
        EndpointsService,
      ],
      exports: [DeliveryEngineModule, STEP_COMPLETION_OUTBOX],
    };
  }
}
