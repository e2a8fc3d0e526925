import { DynamicModule, Module } from '@nestjs/common';
import { ApiKeysModule } from './auth/api-keys/api-keys.module.js';
import { AuthModule } from './auth/auth.module.js';
import { EventEmitterModule } from '@nestjs/event-emitter';
import type { StephookConfig } from './config/stephook-config.js';
import { StephookConfigModule } from './config/stephook-config.module.js';
import { DashboardModule } from './dashboard/dashboard.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { StepsModule } from './steps/steps.module.js';
import { WebhookModule } from './webhook/webhook.module.js';

/**
 * The API process, on the configuration read at start (whose delivery block decides how
 * WebhookModule is built).
 * The HTTP layer around it (API key, body parsing, request log, tracing) is Fastify hooks that
 * setUpApp (app.setup.ts) adds.
 */
@Module({})
export class AppModule {
  static register(config: StephookConfig): DynamicModule {
    // One instance, imported by HealthModule too (for /ready), so both see the same engine.
    const webhook = WebhookModule.register(config.delivery);
    return {
      module: AppModule,
      imports: [
        StephookConfigModule.forRoot(config),
        EventEmitterModule.forRoot(),
        DatabaseModule,
        AuthModule,
        ApiKeysModule,
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
