import { Injectable, NestMiddleware } from '@nestjs/common';
import { SpanStatusCode } from '@opentelemetry/api';
import type { NextFunction, Request, Response } from 'express';
import { context, startServerSpan } from './tracing.js';

/**
 * A server span per HTTP request (only registered while tracing is on), continuing the caller's
 * trace when it sends `traceparent`. Named `<method> <route>` once the route is known. Everything
 * the request causes runs in its context — the request and response emitters are bound to it, so
 * body reads and `finish` stay in it too.
 */
@Injectable()
export class HttpTracingMiddleware implements NestMiddleware {
  use(request: Request, response: Response, next: NextFunction): void {
    const path = request.originalUrl.split('?')[0];
    const { span, context: active } = startServerSpan(request.method, request.headers, {
      'http.request.method': request.method,
      'url.path': path,
      'url.scheme': request.protocol,
      'user_agent.original': request.headers['user-agent'],
    });
    response.once('close', () => {
      const route = (request.route as { path?: string } | undefined)?.path;
      if (route) {
        span.updateName(`${request.method} ${route}`);
        span.setAttribute('http.route', route);
      }
      span.setAttribute('http.response.status_code', response.statusCode);
      if (response.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.bind(active, request);
    context.bind(active, response);
    context.with(active, next);
  }
}
