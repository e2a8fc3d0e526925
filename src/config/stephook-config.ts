import { AppConfig, parseAppConfig } from './app.config.js';
import { DatabaseConfig, parseDatabaseConfig } from './database.config.js';
import { DeliveryConfig, parseDeliveryConfig } from './delivery.config.js';
import type { Env } from './env.js';
import { parseRetentionConfig, RetentionConfig } from './retention.config.js';
import { parseTracingConfig, TracingConfig } from './tracing.config.js';
import { parseWebhookConfig, WebhookConfig } from './webhook.config.js';

/** Every setting of a stephook process, read once at start and never changed after. */
export interface StephookConfig {
  readonly app: AppConfig;
  readonly database: DatabaseConfig;
  readonly webhook: WebhookConfig;
  readonly delivery: DeliveryConfig;
  readonly retention: RetentionConfig;
  readonly tracing: TracingConfig;
}

/**
 * Parses every block from `env`, frozen. A bad value throws a ConfigValidationError naming the
 * variable (loadValidConfig turns it into the one line the start stops with).
 */
export function parseStephookConfig(env: Env): StephookConfig {
  return deepFreeze({
    app: parseAppConfig(env),
    database: parseDatabaseConfig(env),
    webhook: parseWebhookConfig(env),
    delivery: parseDeliveryConfig(env),
    retention: parseRetentionConfig(env),
    tracing: parseTracingConfig(env),
  });
}

/** Plain objects and arrays, all the way down; class instances (URL, Buffer, BlockList) as they are. */
function deepFreeze<T>(value: T): T {
  if (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype) {
    for (const member of Object.values(value as object)) {
      if (typeof member === 'object' && member !== null) deepFreeze(member);
    }
    Object.freeze(value);
  }
  return value;
}
