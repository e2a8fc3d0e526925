import { SpanStatusCode } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { pathOf } from '../auth/api-key.hook.js';
import { context, startServerSpan, tracingEnabled } from './tracing.js';

/**
 * A server span per HTTP request (only hooked in while tracing is on), continuing the caller's
 * trace when it sends `traceparent`. Named `<method> <route>` once the route is known. Everything
 * the request causes runs in its context — the request and response emitters are bound to it, so
 * body reads and `close` stay in it too. The first onRequest hook, so a refused key or a bad body
 * is traced too.
 */
export function traceRequests(fastify: FastifyInstance): void {
  if (!tracingEnabled()) return;
  fastify.addHook('onRequest', (request, reply, done) => {
    const { span, context: active } = startServerSpan(request.method, request.headers, {
      'http.request.method': request.method,
      'url.path': pathOf(request.url),
      'url.scheme': request.protocol,
      'user_agent.original': request.headers['user-agent'],
    });
    const response = reply.raw;
    response.once('close', () => {
      const route = request.is404 ? undefined : request.routeOptions.url;
      if (route) {
        span.updateName(`${request.method} ${route}`);
        span.setAttribute('http.route', route);
      }
      span.setAttribute('http.response.status_code', response.statusCode);
      if (response.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.bind(active, request.raw);
    context.bind(active, response);
    context.with(active, done);
  });
}
