import 'reflect-metadata';
import type { Server } from 'node:http';
import { INestApplication, Logger } from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { createHttpAdapter, fastifyOf } from './app.setup.js';
import { requireApiKey } from './auth/api-key.hook.js';
import { ErrorResponseFilter } from './common/error-response.filter.js';
import { parseAppConfig } from './config/app.config.js';
import type { AppConfig } from './config/app.config.js';
import { parseDatabaseConfig } from './config/database.config.js';
import { parseDeliveryConfig } from './config/delivery.config.js';
import { loadValidConfig } from './config/load-valid-config.js';
import { parseTracingConfig } from './config/tracing.config.js';
import { limitConnections } from './http-server-limits.js';
import { StephookLogger } from './logging/stephook-logger.js';
import { MetricsListener, MetricsListenError } from './metrics/metrics-listener.js';
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
    const app = await NestFactory.create(module, createHttpAdapter(), {
      ...options,
      bodyParser: false,
      forceCloseConnections: true,
    });
    const listener = await listenForOperators(app, config);
    const closeOperatorListener = closeListener(app);
    stopGracefullyOn(SIGNALS, app, () => {
      listener.stop();
      closeOperatorListener();
    });
  }
  logger.log(`stephook worker delivering from ${deliverySource(delivery.redisUrl)}`);
}

/** Where this worker finds its work, as its start line says. */
function deliverySource(redisUrl: URL | undefined): string {
  if (redisUrl) return 'the BullMQ queue on REDIS_URL';
  return parseDatabaseConfig(process.env).dialect === 'postgres'
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
): Promise<MetricsListener> {
  app.useGlobalFilters(new ErrorResponseFilter(app.get(HttpAdapterHost).httpAdapter));
  const fastify = fastifyOf(app);
  // Only GET routes here: a body is never parsed (a POST anywhere stays a 404).
  fastify.removeAllContentTypeParsers();
  // /metrics behind API_KEY, as on the API; /health and /ready open.
  requireApiKey(fastify, config.apiKey, (request, path) => isMetrics(request.method, path));
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
  } catch (error) {
    if (!(error instanceof MetricsListenError)) throw error;
    process.stderr.write(`stephook: ${error.message}\n`);
    await app.close();
    process.exit(1);
  }
  return listener;
}

/** GET (or HEAD) /metrics, matched as routes are (any case, a trailing slash). */
function isMetrics(method: string, path: string): boolean {
  return (method === 'GET' || method === 'HEAD') && /^\/metrics\/?$/i.test(path);
}

void bootstrap();
