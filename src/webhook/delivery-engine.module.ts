import { HttpModule } from '@nestjs/axios';
import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { StopDeadline } from '../stop-deadline.js';
import type { DeliveryConfig } from '../config/delivery.config.js';
import { DeliveryRetention } from './delivery-retention.js';
import { DeliveryStore } from './delivery-store.js';
import { DeliveryDispatcher } from './dispatch/delivery-dispatcher.js';
import { DeliveryScheduler } from './dispatch/delivery-scheduler.js';
import { DeliveryTrigger, THIS_PROCESS_DELIVERS } from './dispatch/delivery-trigger.js';
import { InProcessTrigger } from './dispatch/in-process-trigger.js';
import { PgDeliveryNotifier } from './dispatch/pg-delivery-notifier.js';
import { EndpointReconciler } from './endpoints/endpoint-reconciler.js';
import { EndpointHealth } from './endpoints/endpoint-health.js';
import { EndpointRegistry } from './endpoints/endpoint-registry.js';
import { WebhookEndpoint } from './endpoints/entities/webhook-endpoint.entity.js';
import { WebhookEndpointThrottle } from './endpoints/entities/webhook-endpoint-throttle.entity.js';
import { DeliveryAttempt } from './entities/delivery-attempt.entity.js';
import { WebhookDelivery } from './entities/webhook-delivery.entity.js';
import { DeliveryProcessor } from './queue/delivery.processor.js';
import { DELIVERY_QUEUE, DeliveryQueue } from './queue/delivery-queue.js';
import { DeliverySweeper } from './queue/delivery-sweeper.js';
import { QueuedTrigger } from './queue/queued-trigger.js';
import { redisConnection } from './queue/redis-connection.js';
import { WebhookSender } from './sender/webhook-sender.js';
import { DELIVERY_CONFIG } from '../config/stephook-config.module.js';

/**
 * The delivery engine: the store of deliveries and attempts, the dispatcher that claims, sends and
 * records attempts, and how they are driven in this process — chosen once at start from REDIS_URL
 * and whether the process delivers: the in-process scheduler (on PostgreSQL woken across processes
 * by LISTEN/NOTIFY), or BullMQ (with a worker and a sweep
 * only where this process delivers). What a worker process runs; WebhookModule adds the outbox and
 * the operator routes. Exports the store and `DeliveryTrigger` (which /ready asks).
 */
@Module({})
export class DeliveryEngineModule {
  static register(delivery: DeliveryConfig, delivers: boolean): DynamicModule {
    const shared = {
      imports: [
        HttpModule,
        TypeOrmModule.forFeature([
          WebhookDelivery,
          DeliveryAttempt,
          WebhookEndpoint,
          WebhookEndpointThrottle,
        ]),
      ],
      providers: [
        { provide: THIS_PROCESS_DELIVERS, useValue: delivers },
        EndpointRegistry,
        EndpointHealth,
        EndpointReconciler,
        DeliveryStore,
        DeliveryRetention,
        DeliveryDispatcher,
        WebhookSender,
        StopDeadline,
      ],
      // TypeOrmModule: the webhook entities' repositories, registered here once, for WebhookModule too.
      exports: [DeliveryTrigger, DeliveryStore, EndpointRegistry, StopDeadline, TypeOrmModule],
    };
    if (!delivery.redisUrl) {
      return {
        module: DeliveryEngineModule,
        ...shared,
        providers: [
          ...shared.providers,
          DeliveryScheduler,
          PgDeliveryNotifier, // inert on SQLite
          { provide: DeliveryTrigger, useClass: InProcessTrigger },
        ],
      };
    }
    return {
      module: DeliveryEngineModule,
      ...shared,
      imports: [
        ...shared.imports,
        BullModule.forRootAsync({
          inject: [DELIVERY_CONFIG],
          useFactory: (config: DeliveryConfig) => ({
            connection: redisConnection(config.redisUrl!),
            prefix: 'stephook',
          }),
        }),
        BullModule.registerQueue({ name: DELIVERY_QUEUE }),
      ],
      providers: [
        ...shared.providers,
        DeliveryQueue,
        ...(delivers ? [DeliveryProcessor, DeliverySweeper] : []),
        { provide: DeliveryTrigger, useClass: QueuedTrigger },
      ],
    };
  }
}
