import { createHash, timingSafeEqual } from 'node:crypto';
import { ForbiddenException, UnauthorizedException } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { KeyRing } from './key-ring.js';
import { ADMIN_PRINCIPAL, lacksScope } from './principal.js';
import type { Principal, Scope } from './principal.js';

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

/** Fastify route config a `@Scoped` route carries, so the scope is checked before its body is read. */
export interface ScopedRouteConfig {
  requiredScope?: Scope;
}

/**
 * Authenticates each request `guards(request, path)` names before anything else looks at it: an
 * onRequest hook, so a refused request's body is not even read. It sets `request.principal` and
 * refuses, here already, a key without the scope the route's config names (403); the ScopeGuard
 * checks the same again, and fails closed for a route that declares nothing. Two Authorization
 * headers are refused: Node keeps only the first, and which one a proxy passed on is anyone's guess.
 * `path`: the request target without its query string.
 */
export function authenticateRequests(
  fastify: FastifyInstance,
  authenticator: Authenticator,
  guards: (request: FastifyRequest, path: string) => boolean,
): void {
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (!guards(request, pathOf(request.url))) return done();
    const principal = hasOneAuthorization(request.raw.rawHeaders)
      ? authenticator.principalOf(request.headers.authorization)
      : null;
    if (principal === null) return done(new UnauthorizedException(API_KEY_REFUSAL));
    request.principal = principal;
    const scope = (request.routeOptions.config as ScopedRouteConfig | undefined)?.requiredScope;
    if (scope && !principal.scopes.has(scope))
      return done(new ForbiddenException(lacksScope(scope)));
    done();
  });
}

/** Whether the request carries at most one Authorization header. */
function hasOneAuthorization(rawHeaders: string[]): boolean {
  let seen = 0;
  for (let index = 0; index < rawHeaders.length; index += 2) {
    if (rawHeaders[index].length === 13 && rawHeaders[index].toLowerCase() === 'authorization') {
      seen += 1;
    }
  }
  return seen <= 1;
}

/**
 * `text` (a request target, an error message echoing one) with every `shk_` key, and `apiKey`
 * when given, replaced by `shk_…` / `<API_KEY>`: a client that puts its key in a URL
 * (`?api_key=…`) does not get it written to a log or echoed in an error.
 */
export function redactKeys(text: string, apiKey?: string): string {
  const redacted = text.replace(/shk_[A-Za-z0-9_-]+/g, `${KEY_PREFIX}…`);
  return apiKey ? redacted.split(apiKey).join('<API_KEY>') : redacted;
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
