import 'reflect-metadata';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { INestApplication, Logger } from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { ErrorResponseFilter } from './common/error-response.filter.js';
import { parseAppConfig } from './config/app.config.js';
import type { AppConfig } from './config/app.config.js';
import { parseDeliveryConfig } from './config/delivery.config.js';
import { loadValidConfig } from './config/load-valid-config.js';
import { parseTracingConfig } from './config/tracing.config.js';
import { limitConnections } from './http-server-limits.js';
import { StephookLogger } from './logging/stephook-logger.js';
import { closeListener, stopGracefullyOn } from './stop-gracefully.js';
import { startTracing } from './tracing/tracing.js';
import { WorkerModule } from './worker.module.js';

const logger = new Logger('Bootstrap');
const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/** `npm run start:worker`: delivers webhooks; serves only /metrics, /health and /ready. Any number may run. */
async function bootstrap(): Promise<void> {
  loadValidConfig();
  await startTracing(parseTracingConfig(process.env));
  const config = parseAppConfig(process.env);
  const delivery = parseDeliveryConfig(process.env);
  const module = WorkerModule.register(delivery);
  const options = { logger: new StephookLogger(config.logLevel, config.logFormat) };
  if (config.metricsPort === 0) {
    const context = await NestFactory.createApplicationContext(module, options);
    await context.init();
    stopGracefullyOn(SIGNALS, context);
  } else {
    const app = await NestFactory.create(module, {
      ...options,
      bodyParser: false,
      forceCloseConnections: true,
    });
    await listenForOperators(app, config);
    stopGracefullyOn(SIGNALS, app, closeListener(app));
  }
  logger.log(
    `stephook worker delivering from ${delivery.redisUrl ? 'the BullMQ queue on REDIS_URL' : 'the database (polling)'}`,
  );
}

async function listenForOperators(app: INestApplication, config: AppConfig): Promise<void> {
  app.useGlobalFilters(new ErrorResponseFilter(app.get(HttpAdapterHost).httpAdapter));
  limitConnections(app.getHttpServer() as Server, config.http);
  await app.listen(config.metricsPort, config.host);
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  logger.log(`stephook worker metrics on http://${config.host}:${port}/metrics`);
  if (!config.apiKey) logger.warn('API_KEY is empty: /metrics answers without authentication');
}

void bootstrap();
