import type { Server } from 'node:http';
import { INestApplication, INestApplicationContext, Logger } from '@nestjs/common';
import { stopTracing } from './tracing/tracing.js';

const logger = new Logger('Shutdown');

/**
 * On a signal: stop taking new work (`stopAccepting`: the API closes its listener), let webhook
 * attempts in flight finish (the dispatcher waits up to 10 s), leave the rest pending for the next
 * start, and exit 0. Nest's own enableShutdownHooks() would re-raise the signal after closing, which
 * exits with 143 instead.
 */
export function stopGracefullyOn(
  signals: NodeJS.Signals[],
  app: INestApplicationContext,
  stopAccepting: () => void = () => undefined,
): void {
  const stop = async (signal: NodeJS.Signals) => {
    logger.log(`${signal} received: no new work; finishing webhook attempts in flight`);
    stopAccepting();
    try {
      await app.close();
      await stopTracing();
      process.exit(0);
    } catch (error) {
      logger.error('Shutdown failed', error);
      process.exit(1);
    }
  };
  for (const signal of signals) process.once(signal, (received) => void stop(received));
}

/** `stopAccepting` for a process that listens: no new connections, idle keep-alive ones closed. */
export function closeListener(app: INestApplication): () => void {
  return () => {
    const server = app.getHttpServer() as Server;
    server.close();
    server.closeIdleConnections();
  };
}
