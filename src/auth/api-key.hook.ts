import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthorizedException } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export const API_KEY_REFUSAL = 'Authorization: Bearer <API_KEY> is missing or wrong';

/**
 * With API_KEY set, a request needs `Authorization: Bearer <API_KEY>` before anything else looks at
 * it: an onRequest hook, so its body is not even read. Keys are compared as SHA-256 digests with
 * timingSafeEqual: constant time, whatever their lengths. `guards(request, path)` says which
 * requests need the key (`path`: the request target without its query string).
 */
export function requireApiKey(
  fastify: FastifyInstance,
  apiKey: string | undefined,
  guards: (request: FastifyRequest, path: string) => boolean,
): void {
  if (!apiKey) return;
  const expected = digest(apiKey);
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (
      guards(request, pathOf(request.url)) &&
      !bearerMatches(request.headers.authorization, expected)
    ) {
      done(new UnauthorizedException(API_KEY_REFUSAL));
      return;
    }
    done();
  });
}

/** The request target without its query string, as the client wrote it. */
export function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

export function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Whether an Authorization header carries the Bearer key whose digest is given, in constant time.
 * The scheme's name is case-insensitive (RFC 9110 §11.1); the key is compared exactly.
 */
export function bearerMatches(header: string | undefined, expectedDigest: Buffer): boolean {
  const match = /^bearer +(.+)$/i.exec(header ?? '');
  return match !== null && timingSafeEqual(digest(match[1]), expectedDigest);
}
