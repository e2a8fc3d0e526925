import { appConfig } from './app.config.js';
import { databaseConfig } from './database.config.js';
import { deliveryConfig } from './delivery.config.js';
import { retentionConfig } from './retention.config.js';
import { tracingConfig } from './tracing.config.js';
import { webhookConfig } from './webhook.config.js';

/** Every config block, in the order main.ts validates them before Nest starts. */
export const configBlocks = [
  appConfig,
  databaseConfig,
  webhookConfig,
  deliveryConfig,
  retentionConfig,
  tracingConfig,
];
