import {
  DynamicModule,
  MiddlewareConsumer,
  Module,
  NestModule,
  RequestMethod,
} from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ApiKeyMiddleware } from './auth/api-key.middleware.js';
import { JsonBodyMiddleware } from './common/json-body.middleware.js';
import { RequestLogMiddleware } from './common/request-log.middleware.js';
import type { DeliveryConfig } from './config/delivery.config.js';
import { configBlocks } from './config/index.js';
import { DashboardModule } from './dashboard/dashboard.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { StepsModule } from './steps/steps.module.js';
import { HttpTracingMiddleware } from './tracing/http-tracing.middleware.js';
import { tracingEnabled } from './tracing/tracing.js';
import { WebhookModule } from './webhook/webhook.module.js';

/** The API process. `register` takes the delivery setup, which decides how WebhookModule is built. */
@Module({})
export class AppModule implements NestModule {
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

  configure(consumer: MiddlewareConsumer): void {
    // First, so a refused key or a bad body is traced too (registered only while tracing is on).
    if (tracingEnabled()) consumer.apply(HttpTracingMiddleware).forRoutes('{*path}');
    consumer.apply(RequestLogMiddleware).forRoutes('{*path}');
    // Probes stay open so orchestrators need no key, and the dashboard page so it can ask for
    // it; everything else is authenticated first.
    consumer
      .apply(ApiKeyMiddleware)
      .exclude(
        { path: 'health', method: RequestMethod.GET },
        { path: 'ready', method: RequestMethod.GET },
        { path: 'dashboard', method: RequestMethod.GET },
        { path: 'dashboard/{*asset}', method: RequestMethod.GET },
      )
      .forRoutes('{*path}');
    consumer.apply(JsonBodyMiddleware).forRoutes('{*path}');
  }
}
