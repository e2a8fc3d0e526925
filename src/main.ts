import 'reflect-metadata';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { APP_OPTIONS, createHttpAdapter, setUpApp } from './app.setup.js';
import { parseAppConfig } from './config/app.config.js';
import { parseDeliveryConfig } from './config/delivery.config.js';
import { loadValidConfig } from './config/load-valid-config.js';
import { parseTracingConfig } from './config/tracing.config.js';
import { limitConnections } from './http-server-limits.js';
import { StephookLogger } from './logging/stephook-logger.js';
import { closeListener, stopGracefullyOn } from './stop-gracefully.js';
import { startTracing } from './tracing/tracing.js';

const logger = new Logger('Bootstrap');

async function bootstrap(): Promise<void> {
  loadValidConfig();
  await startTracing(parseTracingConfig(process.env));
  const config = parseAppConfig(process.env);
  const app = setUpApp(
    await NestFactory.create(
      AppModule.register(parseDeliveryConfig(process.env)),
      createHttpAdapter(),
      {
        ...APP_OPTIONS,
        logger: new StephookLogger(config.logLevel, config.logFormat),
        // After the drain, connections still open are cut so the process can exit.
        forceCloseConnections: true,
      },
    ),
  );
  limitConnections(app.getHttpServer() as Server, config.http);
  await app.listen(config.port, config.host);
  stopGracefullyOn(['SIGTERM', 'SIGINT'], app, closeListener(app));
  if (!config.apiKey)
    logger.warn('API_KEY is empty: the API accepts requests without authentication');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  logger.log(`stephook listening on http://${config.host}:${port}`);
}

void bootstrap();
