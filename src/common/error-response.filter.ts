import {
  ArgumentsHost,
  Catch,
  HttpException,
  HttpStatus,
  Logger,
  NotFoundException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { isDatabaseUnavailable, RETRY_AFTER_SECONDS } from '../database/database-unavailable.js';
import { DependencyUnavailableError, DomainError, DomainErrorCode } from './domain-error.js';
import { JSON_ONLY } from './json-body.hooks.js';
import { KEY_PREFIX, redactKeys } from '../auth/api-key.hook.js';

const STATUS_BY_CODE: Record<DomainErrorCode, HttpStatus> = {
  not_found: HttpStatus.NOT_FOUND,
  conflict: HttpStatus.CONFLICT,
  invalid: HttpStatus.BAD_REQUEST,
  unavailable: HttpStatus.SERVICE_UNAVAILABLE,
};

const ERROR_NAMES: Record<DomainErrorCode, string> = {
  not_found: 'Not Found',
  conflict: 'Conflict',
  invalid: 'Bad Request',
  unavailable: 'Service Unavailable',
};

/** At most one warning per this long while a dependency stays away, not one per request. */
const OUTAGE_LOG_INTERVAL_MS = 5_000;

/**
 * The one place errors become responses, in Nest's shape `{statusCode, message, error}`: a
 * DomainError by its code; a database that does not answer as 503 with Retry-After (a lost
 * connection is not a fault of the server, and the caller's retry is safe: terminal calls are
 * idempotent); everything else as Nest answers it (HttpExceptions as they are, the rest 500, logged).
 */
@Catch()
export class ErrorResponseFilter extends BaseExceptionFilter {
  private readonly logger = new Logger('ErrorResponse');
  private lastOutageLog = 0;

  override catch(exception: unknown, host: ArgumentsHost): void {
    const error =
      !(exception instanceof DomainError) && isDatabaseUnavailable(exception)
        ? new DependencyUnavailableError('The database')
        : exception;
    if (!(error instanceof DomainError)) return super.catch(fromFastify(exception), host);
    // The underlying failure: the driver's error for the database, the kept cause for Redis.
    if (error.code === 'unavailable')
      this.warnOutage(error, error === exception ? error.cause : exception);
    const statusCode = STATUS_BY_CODE[error.code];
    const response: unknown = host.switchToHttp().getResponse();
    const adapter = this.httpAdapterHost?.httpAdapter ?? this.applicationRef!;
    if (error.code === 'unavailable')
      adapter.setHeader(response, 'retry-after', String(RETRY_AFTER_SECONDS));
    adapter.reply(
      response,
      { statusCode, message: error.message, error: ERROR_NAMES[error.code] },
      statusCode,
    );
  }

  private warnOutage(error: DomainError, cause: unknown): void {
    const now = Date.now();
    if (now - this.lastOutageLog < OUTAGE_LOG_INTERVAL_MS) return;
    this.lastOutageLog = now;
    const message = (cause as { message?: unknown } | undefined)?.message;
    const reason = typeof message === 'string' ? `: ${message}` : '';
    this.logger.warn(`Answering 503: ${error.message}${reason}`);
  }
}

/**
 * Fastify refuses a Content-Type it cannot parse at all before the body parser sees it; that is
 * answered as the parser answers any other type that is not JSON (json-body.hooks.ts).
 */
function fromFastify(exception: unknown): unknown {
  const cause = exception instanceof HttpException ? exception.cause : undefined;
  if ((cause as { code?: unknown } | undefined)?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new UnsupportedMediaTypeException(JSON_ONLY);
  }
  // "Cannot GET /shk_…": the router's 404 echoes the request target, a key in it included.
  if (exception instanceof NotFoundException && exception.message.includes(KEY_PREFIX)) {
    return new NotFoundException(redactKeys(exception.message));
  }
  return exception;
}
