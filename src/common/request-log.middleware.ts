import { Injectable, Logger, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/** One debug line per request when it finishes: method, path, status and duration. Never headers. */
@Injectable()
export class RequestLogMiddleware implements NestMiddleware {
  private readonly logger = new Logger('HTTP');

  use(request: Request, response: Response, next: NextFunction): void {
    const started = performance.now();
    response.once('finish', () => {
      const durationMs = Math.round(performance.now() - started);
      this.logger.debug(
        `${request.method} ${request.originalUrl} ${response.statusCode} ${durationMs} ms`,
        {
          method: request.method,
          path: request.path,
          status_code: response.statusCode,
          duration_ms: durationMs,
        },
      );
    });
    next();
  }
}
