import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { EventEmitterModule } from '@nestjs/event-emitter';
import type { DeliveryConfig } from './config/delivery.config.js';
import { configBlocks } from './config/index.js';
import { DashboardModule } from './dashboard/dashboard.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { StepsModule } from './steps/steps.module.js';
import { WebhookModule } from './webhook/webhook.module.js';

/**
 * The API process. `register` takes the delivery setup, which decides how WebhookModule is built.
 * The HTTP layer around it (API key, body parsing, request log, tracing) is Fastify hooks that
 * setUpApp (app.setup.ts) adds.
 */
@Module({})
export class AppModule {
  static register(delivery: DeliveryConfig): DynamicModule {
    // One instance, imported by HealthModule too (for /ready), so both see the same engine.
    const webhook = WebhookModule.register(delivery);
    return {
      module: AppModule,
      imports: [
        // main.ts reads .env and validates every block before Nest starts.
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: configBlocks }),
        EventEmitterModule.forRoot(),
        DatabaseModule,
        MetricsModule,
        // The steps' transitions commit the webhook outbox's deliveries with them.
        StepsModule.withCompletionOutbox(webhook),
        webhook,
        HealthModule.register(webhook),
        DashboardModule,
      ],
    };
  }
}
