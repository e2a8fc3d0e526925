import { isIP } from 'node:net';
import type { DatabaseConfig } from './database.config.js';
import type { DeliveryConfig } from './delivery.config.js';

/**
 * A URL as a start line may show it: scheme, host, port and path, without the user, password,
 * query or fragment (any of which may hold a credential).
 */
export function withoutCredentials(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** `sqlite:data/stephook.sqlite`, or `postgres://db.internal:5432/stephook` without credentials. */
export function describeDatabase(database: DatabaseConfig): string {
  return database.dialect === 'sqlite'
    ? `sqlite:${database.path}`
    : withoutCredentials(new URL(database.url));
}

/** `http://127.0.0.1:3000`, `http://[::1]:3000`. */
export function httpUrl(host: string, port: number): string {
  return `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/** Whether this API process makes delivery attempts, and through what. */
export function describeDelivery(delivery: DeliveryConfig): string {
  const queue = delivery.redisUrl
    ? ` through BullMQ on ${withoutCredentials(delivery.redisUrl)}`
    : '';
  return delivery.worker
    ? `delivering here${queue}`
    : `not delivering here (DELIVERY_WORKER=off: workers deliver${queue || ' from the database'})`;
}
