import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { parseAppConfig } from './config/app.config.js';
import { parseDeliveryConfig } from './config/delivery.config.js';
import { loadValidConfig } from './config/load-valid-config.js';
import { StephookLogger } from './logging/stephook-logger.js';
import { stopGracefullyOn } from './stop-gracefully.js';
import { WorkerModule } from './worker.module.js';

const logger = new Logger('Bootstrap');

/** `npm run start:worker`: delivers webhooks, serves nothing. Any number may run. */
async function bootstrap(): Promise<void> {
  loadValidConfig();
  const config = parseAppConfig(process.env);
  const delivery = parseDeliveryConfig(process.env);
  const app = await NestFactory.createApplicationContext(WorkerModule.register(delivery), {
    logger: new StephookLogger(config.logLevel, config.logFormat),
  });
  await app.init();
  stopGracefullyOn(['SIGTERM', 'SIGINT'], app);
  logger.log(
    `stephook worker delivering from ${delivery.redisUrl ? 'the BullMQ queue on REDIS_URL' : 'the database (polling)'}`,
  );
}

void bootstrap();
