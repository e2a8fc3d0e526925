import { DynamicModule, Module } from '@nestjs/common';
import { AuthModule } from './auth/auth.module.js';
import type { StephookConfig } from './config/stephook-config.js';
import { StephookConfigModule } from './config/stephook-config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { DeliveryEngineModule } from './webhook/delivery-engine.module.js';

/**
 * A process that only delivers (`npm run start:worker`): no API, no steps; the database and the
 * delivery engine, which takes its work from BullMQ (REDIS_URL) or polls the database. On
 * METRICS_PORT it serves what operators scrape and probe — /metrics (behind a key with metrics:read, as on the API),
 * /health and /ready — with the API's own controllers.
 */
@Module({})
export class WorkerModule {
  static register(config: StephookConfig): DynamicModule {
    const engine = DeliveryEngineModule.register(config.delivery, true);
    return {
      module: WorkerModule,
      imports: [
        StephookConfigModule.forRoot(config),
        DatabaseModule,
        AuthModule,
        MetricsModule,
        engine,
        HealthModule.register(engine),
      ],
    };
  }
}
