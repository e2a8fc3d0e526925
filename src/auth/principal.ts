import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/** What a key may do (SPEC §10). `admin` manages keys; API_KEY from the environment has every scope. */
export const SCOPES = [
  'steps:write',
  'steps:read',
  'deliveries:read',
  'deliveries:write',
  'endpoints:read',
  'endpoints:write',
  'metrics:read',
  'admin',
] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * Who is asking: the key a request was authenticated with. `projectIds` null = every project (an
 * unbound key, API_KEY, or an API without API_KEY); otherwise the request sees only steps of those
 * projects, deliveries of those steps and endpoints whose filter is limited to them.
 */
export interface Principal {
  /** The api_keys record's id; null for API_KEY (or no authentication at all). */
  readonly keyId: string | null;
  readonly scopes: ReadonlySet<Scope>;
  readonly projectIds: readonly string[] | null;
}

/** API_KEY, or every request while API_KEY is empty: everything, every project. */
export const ADMIN_PRINCIPAL: Principal = Object.freeze({
  keyId: null,
  scopes: new Set<Scope>(SCOPES),
  projectIds: null,
});

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook before any route runs. */
    principal?: Principal;
  }
}

/** The principal of a request (ADMIN_PRINCIPAL where no hook set one: the worker's listener). */
export function principalOf(request: FastifyRequest): Principal {
  return request.principal ?? ADMIN_PRINCIPAL;
}

/** `@CurrentPrincipal() principal: Principal` in a controller method. */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal =>
    principalOf(context.switchToHttp().getRequest<FastifyRequest>()),
);

/** The 403's message for a key without the scope a route needs. */
export function lacksScope(scope: Scope): string {
  return `This key lacks the scope ${scope}`;
}

/** Route metadata: the scope an operation needs (checked before the body is validated). */
export const REQUIRED_SCOPE = 'stephook:required-scope';
export const RequiresScope = (scope: Scope) => SetMetadata(REQUIRED_SCOPE, scope);
