import 'reflect-metadata';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { APP_OPTIONS, createHttpAdapter, setUpApp } from './app.setup.js';
import { bootstrap } from './bootstrap.js';
import {
  describeDatabase,
  describeDelivery,
  httpUrl,
  withoutCredentials,
} from './config/describe-config.js';
import type { StephookConfig } from './config/stephook-config.js';
import { limitConnections } from './http-server-limits.js';
import { closeListener } from './stop-gracefully.js';
import { EndpointRegistry } from './webhook/endpoints/endpoint-registry.js';

/** `npm start`: the API on HOST:PORT, delivering webhooks unless DELIVERY_WORKER=off. */
bootstrap(async (config, logger) => {
  const app = setUpApp(
    await NestFactory.create(AppModule.register(config), createHttpAdapter(), {
      ...APP_OPTIONS,
      logger,
      // After the drain, connections still open are cut so the process can exit.
      forceCloseConnections: true,
    }),
  );
  limitConnections(app.getHttpServer() as Server, config.app.http);
  await app.listen(config.app.port, config.app.host);
  if (!config.app.apiKey) {
    new Logger('Bootstrap').warn(
      'API_KEY is empty: the API accepts requests without authentication',
    );
  }
  return { app, stopAccepting: closeListener(app), startLine: startLine(app, config) };
});

/**
 * `stephook listening on http://127.0.0.1:3000 · database sqlite:data/stephook.sqlite · environment
 * endpoint off (STEP_COMPLETE_WEBHOOK empty) · 0 API endpoints · delivering here`. No credential.
 */
function startLine(app: INestApplication, config: StephookConfig): string {
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  const endpoints = app.get(EndpointRegistry, { strict: false }).apiEndpointCount;
  return [
    `stephook listening on ${httpUrl(config.app.host, port)}`,
    `database ${describeDatabase(config.database)}`,
    config.webhook.url
      ? `environment endpoint ${withoutCredentials(config.webhook.url)}`
      : 'environment endpoint off (STEP_COMPLETE_WEBHOOK empty)',
    `${endpoints} API endpoint${endpoints === 1 ? '' : 's'}`,
    describeDelivery(config.delivery),
  ].join(' · ');
}
