import { Logger } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { pathOf } from '../auth/api-key.hook.js';

/**
 * One debug line per request when it finishes: method, path, status and duration. Never headers.
 * Only hooked in while debug lines are written: at any other level a request costs nothing here.
 */
export function logRequests(fastify: FastifyInstance): void {
  if (!Logger.isLevelEnabled('debug')) return;
  const logger = new Logger('HTTP');
  fastify.addHook('onResponse', (request, reply, done) => {
    const durationMs = Math.round(reply.elapsedTime);
    logger.debug(`${request.method} ${request.url} ${reply.statusCode} ${durationMs} ms`, {
      method: request.method,
      path: pathOf(request.url),
      status_code: reply.statusCode,
      duration_ms: durationMs,
    });
    done();
  });
}
