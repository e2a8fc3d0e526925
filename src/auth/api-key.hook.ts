import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthorizedException } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { KeyRing } from './key-ring.js';
import { ADMIN_PRINCIPAL } from './principal.js';
import type { Principal } from './principal.js';

export const API_KEY_REFUSAL = 'Authorization: Bearer <API_KEY> is missing or wrong';

/** What every key made through /v1/api-keys starts with. */
export const KEY_PREFIX = 'shk_';

/**
 * Who may make a request: the principal of its `Authorization: Bearer <token>`, or null (a 401).
 * With API_KEY set: API_KEY is the admin; an unrevoked key (`shk_…`) is its own principal; anything
 * else, or nothing, is refused. With API_KEY empty the API stays open: no token, or one that is no
 * `shk_` key (a Letta client sends its own), is the admin; a `shk_` token is checked as a key, so a
 * scoped key can be tried locally. Every token is hashed once (SHA-256) and looked up in the ring
 * by its digest, and API_KEY is compared with timingSafeEqual: the same work whatever the token.
 */
export class Authenticator {
  private readonly apiKeyDigest: Buffer | null;

  constructor(
    apiKey: string | undefined,
    private readonly ring: KeyRing,
  ) {
    this.apiKeyDigest = apiKey ? digest(apiKey) : null;
  }

  principalOf(authorization: string | undefined): Principal | null {
    const token = bearerToken(authorization);
    if (this.apiKeyDigest === null && !token?.startsWith(KEY_PREFIX)) return ADMIN_PRINCIPAL;
    if (token === null) return null;
    const tokenDigest = digest(token);
    const isApiKey = this.apiKeyDigest !== null && timingSafeEqual(tokenDigest, this.apiKeyDigest);
    const key = this.ring.principalForDigest(tokenDigest.toString('hex'));
    return isApiKey ? ADMIN_PRINCIPAL : key;
  }
}

/**
 * Authenticates each request `guards(request, path)` names before anything else looks at it: an
 * onRequest hook, so a refused request's body is not even read. It sets `request.principal`, whose
 * scopes the ScopeGuard then checks against the route's. `path`: the request target without its
 * query string.
 */
export function authenticateRequests(
  fastify: FastifyInstance,
  authenticator: Authenticator,
  guards: (request: FastifyRequest, path: string) => boolean,
): void {
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (!guards(request, pathOf(request.url))) return done();
    const principal = authenticator.principalOf(request.headers.authorization);
    if (principal === null) return done(new UnauthorizedException(API_KEY_REFUSAL));
    request.principal = principal;
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
 * The token of an `Authorization: Bearer <token>` header, or null. The scheme's name is
 * case-insensitive (RFC 9110 §11.1); the token is taken exactly.
 */
export function bearerToken(header: string | undefined): string | null {
  const match = /^bearer +(.+)$/i.exec(header ?? '');
  return match === null ? null : match[1];
}
