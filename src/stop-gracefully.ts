import type { Server } from 'node:http';
import { INestApplication, INestApplicationContext, Logger } from '@nestjs/common';
import { stopTracing, TRACE_FLUSH_MS } from './tracing/tracing.js';

const logger = new Logger('Shutdown');

/** SPEC §6: a stop exits within this long of the signal. */
const STOP_WITHIN_MS = 10_000;
/** Kept free at the end of STOP_WITHIN_MS for the exit itself. */
const EXIT_MARGIN_MS = 500;

/**
 * On a signal: stop taking new work (`stopAccepting`: the API closes its listener), let webhook
 * attempts in flight finish (the dispatcher waits up to 10 s), leave the rest pending for the next
 * start, send the buffered trace spans (up to TRACE_FLUSH_MS, less when the drain has used the
 * rest of the 10 s; a collector that is down or hangs costs a warn line), and exit 0. Nest's own
 * enableShutdownHooks() would re-raise the signal after closing, which exits with 143 instead.
 */
export function stopGracefullyOn(
  signals: NodeJS.Signals[],
  app: INestApplicationContext,
  stopAccepting: () => void = () => undefined,
): void {
  const stop = async (signal: NodeJS.Signals) => {
    const signalled = performance.now();
    logger.log(`${signal} received: no new work; finishing webhook attempts in flight`);
    stopAccepting();
    try {
      await app.close();
      const left = STOP_WITHIN_MS - EXIT_MARGIN_MS - (performance.now() - signalled);
      await stopTracing(Math.max(0, Math.min(TRACE_FLUSH_MS, Math.floor(left))));
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
