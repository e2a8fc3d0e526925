import { ConsoleLogger, LogLevel } from '@nestjs/common';
import type { LogFormat, LogLevelName } from '../config/app.config.js';

/** LOG_LEVEL names the least severe level printed; Nest calls `info` "log" and has two more below it. */
const NEST_LEVELS: Record<LogLevelName, LogLevel[]> = {
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
  info: ['fatal', 'error', 'warn', 'log'],
  warn: ['fatal', 'error', 'warn'],
  error: ['fatal', 'error'],
};

/** Nest's level names, as the operator reads them in JSON lines. */
const LEVEL_NAMES: Partial<Record<LogLevel, string>> = { log: 'info', verbose: 'debug' };

type JsonLogObject = ReturnType<ConsoleLogger['getJsonLogObject']>;

/**
 * Nest's own start-up chatter (a line per module and per route, "Starting Nest application…"):
 * debug, so an info start prints only what stephook says about itself.
 */
const NEST_START_CONTEXTS = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestFactory',
  'NestApplication',
]);

/**
 * Nest's console logger, with LOG_LEVEL / LOG_FORMAT applied. In JSON mode each line is one object
 * with `level`, `message`, `context`, an ISO `timestamp`, and any structured fields (such as
 * `step_id`) a caller passes as the last argument; in text mode each line is the sentence alone.
 */
export class StephookLogger extends ConsoleLogger {
  constructor(level: LogLevelName, format: LogFormat) {
    super({
      logLevels: NEST_LEVELS[level],
      json: format === 'json',
      colors: format === 'json' ? false : undefined,
      flattenParams: true,
    });
  }

  /**
   * Where a stack trace says nothing an operator can act on, it is printed only at debug: the
   * database's retries at start (each line names the cause) and the error a start or a listen
   * failed with (bootstrap() prints it as one line).
   */
  override error(message: unknown, ...rest: unknown[]): void {
    const context = rest.length > 0 ? rest[rest.length - 1] : this.context;
    if (context === 'ExceptionHandler' || context === 'NestApplication') {
      return this.debug(message, ...rest);
    }
    if (context === 'TypeOrmModule') return this.warn(message, context);
    super.error(message, ...rest);
  }

  override log(message: unknown, ...rest: unknown[]): void {
    const context = rest.length > 0 ? rest[rest.length - 1] : this.context;
    if (typeof context === 'string' && NEST_START_CONTEXTS.has(context)) {
      return this.debug(message, ...rest);
    }
    super.log(message, ...rest);
  }

  /**
   * A text line is the sentence alone: the structured fields a caller passes (`step_id`,
   * `status_code`, …) repeat what the sentence says, and are for JSON lines, which carry them.
   */
  protected override formatMessage(
    ...[level, message, pid, levelName, context, timestampDiff]: Parameters<
      ConsoleLogger['formatMessage']
    >
  ): string {
    return super.formatMessage(level, message, pid, levelName, context, timestampDiff);
  }

  protected override getJsonLogObject(
    message: unknown,
    options: Parameters<ConsoleLogger['getJsonLogObject']>[1],
  ): JsonLogObject {
    const object = super.getJsonLogObject(message, options);
    // Only serialised from here on, so the renamed level and ISO timestamp need not fit Nest's type.
    return {
      ...object,
      level: LEVEL_NAMES[object.level] ?? object.level,
      timestamp: new Date(object.timestamp).toISOString(),
    } as unknown as JsonLogObject;
  }
}
