import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DeliveriesHealthIndicator } from './deliveries.health.js';
import { HealthController } from './health.controller.js';

/**
 * Liveness and readiness for load balancers and orchestrators; open without the API key. The
 * delivery check asks the (global) WebhookModule's `DeliveryTrigger`.
 */
@Module({
  imports: [TerminusModule],
  controllers: [HealthController],
  providers: [DeliveriesHealthIndicator],
})
export class HealthModule {}
