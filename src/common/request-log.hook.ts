import { Logger } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { pathOf, redactKeys } from '../auth/api-key.hook.js';

/**
 * One debug line per request when it finishes: method, path, status and duration. Never headers,
 * and no key the URL carries.
 * Only hooked in while debug lines are written: at any other level a request costs nothing here.
 */
export function logRequests(fastify: FastifyInstance, apiKey: string | undefined): void {
  if (!Logger.isLevelEnabled('debug')) return;
  const logger = new Logger('HTTP');
  fastify.addHook('onResponse', (request, reply, done) => {
    const durationMs = Math.round(reply.elapsedTime);
    // A key put in the URL by mistake is not written down.
    const target = redactKeys(request.url, apiKey);
    logger.debug(`${request.method} ${target} ${reply.statusCode} ${durationMs} ms`, {
      method: request.method,
      path: pathOf(target),
      status_code: reply.statusCode,
      duration_ms: durationMs,
    });
    done();
  });
}
