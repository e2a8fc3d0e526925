import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config/database.config.js';
import { StepMetrics } from '../steps/entities/step-metrics.entity.js';
import { Step } from '../steps/entities/step.entity.js';
import { DeliveryAttempt } from '../webhook/entities/delivery-attempt.entity.js';
import { WebhookDelivery } from '../webhook/entities/webhook-delivery.entity.js';
import { CreateSteps1764316800000 } from './migrations/1764316800000-CreateSteps.js';
import { CreateWebhookDeliveries1764403200000 } from './migrations/1764403200000-CreateWebhookDeliveries.js';
import { IndexAttemptsStartedAt1764489600000 } from './migrations/1764489600000-IndexAttemptsStartedAt.js';

export const ENTITIES = [Step, StepMetrics, WebhookDelivery, DeliveryAttempt];
export const MIGRATIONS = [
  CreateSteps1764316800000,
  CreateWebhookDeliveries1764403200000,
  IndexAttemptsStartedAt1764489600000,
];

/** One definition of the database, shared by the app and the TypeORM migration CLI. */
export function buildDataSourceOptions(config: DatabaseConfig): DataSourceOptions {
  const common = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    logging: false,
  } as const;
  if (config.dialect === 'postgres') {
    return { ...common, type: 'postgres', url: config.url };
  }
  if (config.path !== ':memory:') mkdirSync(dirname(config.path), { recursive: true });
  return {
    ...common,
    type: 'better-sqlite3',
    database: config.path,
    // WAL with synchronous=NORMAL survives a killed process (only an OS crash can drop the last
    // commits); busy_timeout lets a second process wait for the lock instead of failing.
    enableWAL: true,
    prepareDatabase: (db: { pragma(source: string): unknown }) => {
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
    },
  };
}
