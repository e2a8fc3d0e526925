import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config/database.config.js';
import { AnsweringPgClient } from './answering-pg-client.js';
import { CreateSteps1764316800000 } from './migrations/1764316800000-CreateSteps.js';
import { CreateWebhookDeliveries1764403200000 } from './migrations/1764403200000-CreateWebhookDeliveries.js';
import { IndexAttemptsStartedAt1764489600000 } from './migrations/1764489600000-IndexAttemptsStartedAt.js';
import { CreateWebhookEndpoints1764576000000 } from './migrations/1764576000000-CreateWebhookEndpoints.js';
import { AddDeliveryTraceParent1764662400000 } from './migrations/1764662400000-AddDeliveryTraceParent.js';
import { AddEndpointIsolation1764748800000 } from './migrations/1764748800000-AddEndpointIsolation.js';
import { CreateApiKeys1764835200000 } from './migrations/1764835200000-CreateApiKeys.js';
import { AddDeliveryProject1764921600000 } from './migrations/1764921600000-AddDeliveryProject.js';

export const MIGRATIONS = [
  CreateSteps1764316800000,
  CreateWebhookDeliveries1764403200000,
  IndexAttemptsStartedAt1764489600000,
  CreateWebhookEndpoints1764576000000,
  AddDeliveryTraceParent1764662400000,
  AddEndpointIsolation1764748800000,
  CreateApiKeys1764835200000,
  AddDeliveryProject1764921600000,
];

/**
 * How long a request may wait on PostgreSQL: for a connection (a new one, or one from the pool),
 * and for the answer to one statement. A transaction of a few statements answers, or fails with a
 * 503, within a few seconds when the database freezes, instead of hanging.
 */
const POSTGRES_CONNECT_TIMEOUT_MS = 2_000;
const POSTGRES_QUERY_TIMEOUT_MS = 2_500;
/** How long a write waits for SQLite's lock when another process holds it, before a 503. */
const SQLITE_BUSY_TIMEOUT_MS = 3_000;

/**
 * One definition of the database, shared by the app and the TypeORM migration CLI. `migrate`
 * leaves out the statement deadline: a migration may rightly take long on a large table. No
 * entities here: each module registers its own (`TypeOrmModule.forFeature`), and the app's
 * DatabaseModule loads them (`autoLoadEntities`); migrations need none.
 */
export function buildDataSourceOptions(
  config: DatabaseConfig,
  use: 'serve' | 'migrate' = 'serve',
): DataSourceOptions {
  const common = {
    entities: [] as DataSourceOptions['entities'],
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    logging: false,
  } as const;
  if (config.dialect === 'postgres') {
    return {
      ...common,
      type: 'postgres',
      url: config.url,
      connectTimeoutMS: POSTGRES_CONNECT_TIMEOUT_MS,
      extra: {
        Client: AnsweringPgClient,
        keepAlive: true,
        ...(use === 'serve' ? { query_timeout: POSTGRES_QUERY_TIMEOUT_MS } : {}),
      },
    };
  }
  if (config.path !== ':memory:') mkdirSync(dirname(config.path), { recursive: true });
  return {
    ...common,
    type: 'better-sqlite3',
    database: config.path,
    // WAL with synchronous=NORMAL survives a killed process (only an OS crash can drop the last
    // commits); busy_timeout lets a second process wait for the lock a while instead of failing.
    enableWAL: true,
    prepareDatabase: (db: { pragma(source: string): unknown }) => {
      db.pragma('synchronous = NORMAL');
      db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    },
  };
}
