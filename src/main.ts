import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { APP_OPTIONS, setUpApp } from './app.setup.js';
import { parseAppConfig } from './config/app.config.js';
import { ConfigValidationError } from './config/env.js';
import { configBlocks } from './config/index.js';
import { loadEnvFile } from './config/load-env-file.js';
import { StephookLogger } from './logging/stephook-logger.js';

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
  const logger = new StephookLogger(config.logLevel, config.logFormat);
  const app = setUpApp(await NestFactory.create(AppModule, { ...APP_OPTIONS, logger }));
  app.enableShutdownHooks();
  await app.listen(config.port, config.host);
  const log = new Logger('Bootstrap');
  if (!config.apiKey) log.warn('API_KEY is empty: the API accepts requests without authentication');
  log.log(
    `stephook listening on http://${config.host}:${(app.getHttpServer() as { address(): { port: number } }).address().port}`,
  );
}

void bootstrap();
