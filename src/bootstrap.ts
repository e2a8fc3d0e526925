import { INestApplicationContext, Logger, LoggerService } from '@nestjs/common';
import { loadValidConfig } from './config/load-valid-config.js';
import type { StephookConfig } from './config/stephook-config.js';
import { StephookLogger } from './logging/stephook-logger.js';
import { startFailureLine } from './start-failure.js';
import { stopGracefullyOn } from './stop-gracefully.js';
import { startTracing } from './tracing/tracing.js';

/** A process once it is ready: what a signal stops, and the one line that says what it does. */
export interface StartedProcess {
  app: INestApplicationContext;
  /** At a signal, before the drain: stop taking new work (close the listeners). */
  stopAccepting?: () => void;
  /** Logged at info once the process is ready (and stops gracefully): what it does, where. */
  startLine: string;
}

/**
 * What the API (main.ts) and a worker (worker.ts) share: the configuration read once, tracing,
 * the logger, a graceful stop on SIGTERM or SIGINT, and one info line once ready. `start` builds
 * the Nest application, on that configuration and with that logger.
 */
export function bootstrap(
  start: (config: StephookConfig, logger: LoggerService) => Promise<StartedProcess>,
): void {
  void (async () => {
    const config = loadValidConfig();
    await startTracing(config.tracing);
    const logger = new StephookLogger(config.app.logLevel, config.app.logFormat);
    const { app, stopAccepting, startLine } = await start(config, logger);
    stopGracefullyOn(['SIGTERM', 'SIGINT'], app, stopAccepting);
    new Logger('Bootstrap').log(startLine);
  })().catch((error: unknown) => {
    // A port in use, a HOST not on this machine, a database that never answered: one line, as a
    // bad variable stops the start (the stack is at LOG_LEVEL=debug, through Nest's handler).
    process.stderr.write(`stephook: ${startFailureLine(error)}\n`);
    process.exit(1);
  });
}
