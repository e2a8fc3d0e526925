import type { Server } from 'node:http';
import { INestApplication, INestApplicationContext, Logger } from '@nestjs/common';
import { STOP_WITHIN_MS, StopDeadline } from './stop-deadline.js';
import { stopTracing, TRACE_FLUSH_MS } from './tracing/tracing.js';

const logger = new Logger('Shutdown');

/** Kept free at the end of STOP_WITHIN_MS for the exit itself. */
const EXIT_MARGIN_MS = 1_000;

/**
 * On a signal: stop taking new work (`stopAccepting`: the API closes its listener), let webhook
 * attempts in flight finish until the drain deadline (StopDeadline: 8.5 s after the signal), leave
 * the rest pending for the next start, send the buffered trace spans (up to TRACE_FLUSH_MS, less
 * when the drain and the close have used the rest of the 10 s; a collector that is down or hangs
 * costs a warn line), and exit 0 within STOP_WITHIN_MS of the signal whatever still hangs. Nest's
 * own enableShutdownHooks() would re-raise the signal after closing, which exits with 143 instead.
 */
export function stopGracefullyOn(
  signals: NodeJS.Signals[],
  app: INestApplicationContext,
  stopAccepting: () => void = () => undefined,
): void {
  const stop = async (signal: NodeJS.Signals) => {
    const signalled = performance.now();
    app.get(StopDeadline, { strict: false }).signalled(signalled);
    // Whatever hangs in the close (a connection, a hook), the exit comes in time; after the trace
    // flush's own deadline, so a hanging collector is still reported.
    const backstopMs = STOP_WITHIN_MS - EXIT_MARGIN_MS / 2;
    setTimeout(() => {
      logger.warn(`The close was not done ${backstopMs} ms after the signal: exiting without it`);
      process.exit(0);
    }, backstopMs).unref();
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
