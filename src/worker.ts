import 'reflect-metadata';
import type { Server } from 'node:http';
import { INestApplication, Logger } from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { createHttpAdapter, fastifyOf } from './app.setup.js';
import { authenticateRequests, Authenticator } from './auth/api-key.hook.js';
import { KeyRing } from './auth/key-ring.js';
import { bootstrap, StartedProcess } from './bootstrap.js';
import { ErrorResponseFilter } from './common/error-response.filter.js';
import type { AppConfig } from './config/app.config.js';
import { describeDatabase, httpUrl, withoutCredentials } from './config/describe-config.js';
import type { StephookConfig } from './config/stephook-config.js';
import { limitConnections } from './http-server-limits.js';
import { MetricsListener, MetricsListenError } from './metrics/metrics-listener.js';
import { closeListener } from './stop-gracefully.js';
import { WorkerModule } from './worker.module.js';

const logger = new Logger('Bootstrap');

/** `npm run start:worker`: delivers webhooks; serves only /metrics, /health and /ready. Any number may run. */
bootstrap(async (config, nestLogger): Promise<StartedProcess> => {
  const module = WorkerModule.register(config);
  if (config.app.metricsPort === 0) {
    const context = await NestFactory.createApplicationContext(module, { logger: nestLogger });
    await context.init();
    return { app: context, startLine: startLine(config, 'no metrics listener (METRICS_PORT=0)') };
  }
  const app = await NestFactory.create(module, createHttpAdapter(), {
    logger: nestLogger,
    bodyParser: false,
    forceCloseConnections: true,
  });
  const { listener, state } = await listenForOperators(app, config.app);
  const closeOperatorListener = closeListener(app);
  const metricsUrl = `${httpUrl(config.app.host, config.app.metricsPort)}/metrics`;
  return {
    app,
    stopAccepting: () => {
      listener.stop();
      closeOperatorListener();
    },
    startLine: startLine(
      config,
      state === 'listening'
        ? `metrics on ${metricsUrl}`
        : `metrics port ${config.app.metricsPort} taken: trying again every ${listener.retryMs / 1000} s`,
    ),
  };
});

/**
 * `stephook worker delivering from the database (polling) · database sqlite:data/stephook.sqlite ·
 * metrics on http://127.0.0.1:9464/metrics`. No credential.
 */
function startLine(config: StephookConfig, metrics: string): string {
  return [
    `stephook worker delivering from ${deliverySource(config)}`,
    `database ${describeDatabase(config.database)}`,
    metrics,
  ].join(' · ');
}

/** Where this worker finds its work. */
function deliverySource({ delivery, database }: StephookConfig): string {
  if (delivery.redisUrl) return `the BullMQ queue on ${withoutCredentials(delivery.redisUrl)}`;
  return database.dialect === 'postgres'
    ? 'the database (woken by LISTEN/NOTIFY, polling each second as a safety net)'
    : 'the database (polling)';
}

/**
 * /metrics, /health and /ready on METRICS_PORT, once the delivery engine runs. A port another
 * worker holds is warned about and retried (see MetricsListener); any other listen error stops the
 * start with one line, after the attempts already started have finished.
 */
async function listenForOperators(
  app: INestApplication,
  config: AppConfig,
): Promise<{ listener: MetricsListener; state: 'listening' | 'port-taken' }> {
  app.useGlobalFilters(new ErrorResponseFilter(app.get(HttpAdapterHost).httpAdapter));
  const fastify = fastifyOf(app);
  // Only GET routes here: a body is never parsed (a POST anywhere stays a 404).
  fastify.removeAllContentTypeParsers();
  // /metrics needs a key with metrics:read (or API_KEY), as on the API; /health and /ready open.
  authenticateRequests(
    fastify,
    new Authenticator(config.apiKey, app.get(KeyRing)),
    (request, path) => isMetrics(request.method, path),
  );
  const server = app.getHttpServer() as Server;
  limitConnections(server, config.http);
  await app.init();
  // MetricsListener listens on the server itself, so Fastify must have loaded its routes first.
  await fastify.ready();
  const listener = new MetricsListener(server, config.metricsPort, config.host, logger);
  try {
    const state = await listener.start();
    if (state === 'listening' && !config.apiKey) {
      logger.warn('API_KEY is empty: /metrics answers without authentication');
    }
    return { listener, state };
  } catch (error) {
    if (!(error instanceof MetricsListenError)) throw error;
    process.stderr.write(`stephook: ${error.message}\n`);
    await app.close();
    process.exit(1);
  }
}

/** GET (or HEAD) /metrics, matched as routes are (any case, a trailing slash). */
function isMetrics(method: string, path: string): boolean {
  return (method === 'GET' || method === 'HEAD') && /^\/metrics\/?$/i.test(path);
}
