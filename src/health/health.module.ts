import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { WebhookModule } from '../webhook/webhook.module.js';
import { DeliveriesHealthIndicator } from './deliveries.health.js';
import { HealthController } from './health.controller.js';

/** Liveness and readiness for load balancers and orchestrators; open without the API key. */
@Module({
  imports: [TerminusModule, WebhookModule],
  controllers: [HealthController],
  providers: [DeliveriesHealthIndicator],
})
export class HealthModule {}
