import {
  applyDecorators,
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
  SetMetadata,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiExtension } from '@nestjs/swagger';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { RouteConfig } from '@nestjs/platform-fastify';
import { API_KEY_REFUSAL } from './api-key.hook.js';
import type { ScopedRouteConfig } from './api-key.hook.js';
import { lacksScope, REQUIRED_SCOPE, RequiresScope } from './principal.js';
import type { Scope } from './principal.js';

/** Route metadata for a route that needs no scope: open to all, or to any valid key. */
export const ACCESS = 'stephook:access';
type Access = 'open' | 'any-key';

/**
 * Where the OpenAPI document learns an operation's scope (`x-required-scope`, or `any-key`);
 * `scopedApiDocument` turns it into the operation's `security`, a line of its description and a 403.
 */
export const SCOPE_EXTENSION = 'x-required-scope';

/**
 * The operation needs a key with `scope` (API_KEY has every scope). The authentication hook checks
 * it from the Fastify route config, before the body is read; the ScopeGuard from the metadata.
 */
export const Scoped = (scope: Scope) =>
  applyDecorators(
    RequiresScope(scope),
    RouteConfig({ requiredScope: scope } satisfies ScopedRouteConfig),
    ApiExtension(SCOPE_EXTENSION, scope),
  );

/** Any valid key may call it, whatever its scopes (the key's own record). */
export const AnyKey = () =>
  applyDecorators(SetMetadata(ACCESS, 'any-key'), ApiExtension(SCOPE_EXTENSION, 'any-key'));

/** Needs no key at all: the probes and the dashboard's files. */
export const OpenRoute = () => SetMetadata(ACCESS, 'open');

/**
 * Every route's scope, checked before its pipes validate anything: the principal the
 * authentication hook set must hold the scope the route declares (`@Scoped`), else 403 naming the
 * scope. A route that declares nothing (neither a scope, nor `@AnyKey`, nor `@OpenRoute`) is refused
 * to everyone: a route added without thinking of its scope fails closed.
 */
@Injectable()
export class ScopeGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS, targets);
    if (access === 'open') return true;
    const principal = context.switchToHttp().getRequest<FastifyRequest>().principal;
    // The hook authenticates every route that is not open; no principal means it did not run.
    if (!principal) throw new UnauthorizedException(API_KEY_REFUSAL);
    if (access === 'any-key') return true;
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE, targets);
    if (!scope) throw new ForbiddenException('This route declares no scope; it answers no key');
    if (!principal.scopes.has(scope)) throw new ForbiddenException(lacksScope(scope));
    return true;
  }
}

type Operation = Record<string, unknown> & {
  description?: string;
  security?: Array<Record<string, string[]>>;
  responses?: Record<string, unknown>;
};

/**
 * States each operation's scope in the document: `security: [{bearer: [scope]}]`, a line of its
 * description, and the 403 a key without it gets. An operation any valid key may call keeps
 * `security: [{bearer: []}]`; open ones keep `security: []`.
 */
export function scopedApiDocument(document: OpenAPIObject): OpenAPIObject {
  for (const path of Object.values(document.paths)) {
    for (const operation of Object.values(path as Record<string, Operation>)) {
      const scope = operation[SCOPE_EXTENSION] as Scope | 'any-key' | undefined;
      if (scope === undefined) continue;
      delete operation[SCOPE_EXTENSION];
      const line =
        scope === 'any-key'
          ? 'Any valid key may call it, whatever its scopes.'
          : `Needs a key with the scope \`${scope}\` (API_KEY has every scope).`;
      operation.description = operation.description ? `${operation.description}\n\n${line}` : line;
      operation.security = [{ bearer: scope === 'any-key' ? [] : [scope] }];
      if (scope === 'any-key') continue;
      operation.responses = {
        ...operation.responses,
        403: {
          description: `The key lacks the scope ${scope}: "${lacksScope(scope)}"`,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorView' } } },
        },
      };
    }
  }
  return document;
}
