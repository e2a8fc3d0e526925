import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import type { DeliveryConfig } from './config/delivery.config.js';
import { configBlocks } from './config/index.js';
import { DatabaseModule } from './database/database.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { DeliveryEngineModule } from './webhook/delivery-engine.module.js';

/**
 * A process that only delivers (`npm run start:worker`): no HTTP API, no steps; the database and
 * the delivery engine, which takes its work from BullMQ (REDIS_URL) or polls the database.
 */
@Module({})
export class WorkerModule {
  static register(delivery: DeliveryConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: configBlocks }),
        DatabaseModule,
        MetricsModule,
        DeliveryEngineModule.register(delivery, true),
      ],
    };
  }
}
