import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DeliveriesHealthIndicator } from './deliveries.health.js';
import { HealthController } from './health.controller.js';

/**
 * Liveness and readiness for load balancers and orchestrators; open without the API key. The
 * delivery check asks the `DeliveryTrigger` that `deliveries` (the app's WebhookModule) exports.
 */
@Module({})
export class HealthModule {
  static register(deliveries: DynamicModule): DynamicModule {
    return {
      module: HealthModule,
      imports: [TerminusModule, deliveries],
      controllers: [HealthController],
      providers: [DeliveriesHealthIndicator],
    };
  }
}
