import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { deliveryConfig } from '../config/delivery.config.js';
import type { DeliveryConfig, DeliveryConfigType } from '../config/delivery.config.js';
import { DeliveryCoreModule } from './delivery-core.module.js';
import { DeliveryScheduler } from './delivery-scheduler.js';
import { THIS_PROCESS_DELIVERS } from './delivery-tokens.js';
import { DeliveryTrigger } from './delivery-trigger.js';
import { InProcessTrigger } from './in-process-trigger.js';
import { DeliveryProcessor } from './queue/delivery.processor.js';
import { DELIVERY_QUEUE, DeliveryQueue } from './queue/delivery-queue.js';
import { DeliverySweeper } from './queue/delivery-sweeper.js';
import { QueuedTrigger } from './queue/queued-trigger.js';
import { redisConnection } from './queue/redis-connection.js';

/**
 * How deliveries are driven in this process, chosen once at start from REDIS_URL and whether the
 * process delivers: the in-process dispatcher and scheduler, or BullMQ (with a worker and a sweep
 * only where this process delivers). Exports `DeliveryTrigger` either way.
 */
@Module({})
export class DeliveryEngineModule {
  static register(delivery: DeliveryConfig, delivers: boolean): DynamicModule {
    const deliversHere = { provide: THIS_PROCESS_DELIVERS, useValue: delivers };
    if (!delivery.redisUrl) {
      return {
        module: DeliveryEngineModule,
        imports: [DeliveryCoreModule],
        providers: [
          deliversHere,
          DeliveryScheduler,
          { provide: DeliveryTrigger, useClass: InProcessTrigger },
        ],
        exports: [DeliveryTrigger, DeliveryCoreModule],
      };
    }
    return {
      module: DeliveryEngineModule,
      imports: [
        DeliveryCoreModule,
        BullModule.forRootAsync({
          inject: [deliveryConfig.KEY],
          useFactory: (config: DeliveryConfigType) => ({
            connection: redisConnection(config.redisUrl!),
            prefix: 'stephook',
          }),
        }),
        BullModule.registerQueue({ name: DELIVERY_QUEUE }),
      ],
      providers: [
        deliversHere,
        DeliveryQueue,
        ...(delivers ? [DeliveryProcessor, DeliverySweeper] : []),
        { provide: DeliveryTrigger, useClass: QueuedTrigger },
      ],
      exports: [DeliveryTrigger, DeliveryCoreModule],
    };
  }
}
