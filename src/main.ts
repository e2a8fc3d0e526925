import 'reflect-metadata';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { APP_OPTIONS, setUpApp } from './app.setup.js';
import { parseAppConfig } from './config/app.config.js';
import { ConfigValidationError } from './config/env.js';
import { configBlocks } from './config/index.js';
import { loadEnvFile } from './config/load-env-file.js';
import { StephookLogger } from './logging/stephook-logger.js';

const logger = new Logger('Bootstrap');

async function bootstrap(): Promise<void> {
  loadEnvFile();
  try {
    for (const block of configBlocks) block();
  } catch (error) {
    if (!(error instanceof ConfigValidationError)) throw error;
    process.stderr.write(`stephook: invalid configuration: ${error.message}\n`);
    process.exit(1);
  }
  const config = parseAppConfig(process.env);
  const app = setUpApp(
    await NestFactory.create(AppModule, {
      ...APP_OPTIONS,
      logger: new StephookLogger(config.logLevel, config.logFormat),
      // After the drain, connections still open are cut so the process can exit.
      forceCloseConnections: true,
    }),
  );
  await app.listen(config.port, config.host);
  stopGracefullyOn(['SIGTERM', 'SIGINT'], app);
  if (!config.apiKey)
    logger.warn('API_KEY is empty: the API accepts requests without authentication');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  logger.log(`stephook listening on http://${config.host}:${port}`);
}

/**
 * Stop taking requests, let webhook attempts in flight finish (the dispatcher waits up to 10 s),
 * leave the rest pending for the next start, and exit 0. Nest's own enableShutdownHooks() would
 * re-raise the signal after closing, which exits with 143 instead.
 */
function stopGracefullyOn(signals: NodeJS.Signals[], app: INestApplication): void {
  const stop = async (signal: NodeJS.Signals) => {
    logger.log(`${signal} received: no new requests; finishing webhook attempts in flight`);
    const server = app.getHttpServer() as Server;
    server.close();
    server.closeIdleConnections();
    try {
      await app.close();
      process.exit(0);
    } catch (error) {
      logger.error('Shutdown failed', error);
      process.exit(1);
    }
  };
  for (const signal of signals) process.once(signal, (received) => void stop(received));
}

void bootstrap();
