import { randomBytes } from 'node:crypto';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { ModulesContainer, Reflector } from '@nestjs/core';
import type { OpenAPIObject } from '@nestjs/swagger';
import request from 'supertest';
import { ACCESS } from '../src/auth/access.js';
import { REQUIRED_SCOPE, SCOPES } from '../src/auth/principal.js';
import type { Scope } from '../src/auth/principal.js';
import { createTestApp, TestApp } from './helpers/test-app.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';

const API_KEY = 'sk-stephook-test-0123456789';
const ADMIN = `Bearer ${API_KEY}`;

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
interface Operation {
  operationId: string;
  security?: Array<Record<string, string[]>>;
  responses: Record<string, unknown>;
}
/** A request that passes validation and finds what it names, made fresh for each call. */
type ValidRequest = () => Promise<{ path: string; body?: object }>;

/** Who calls: no key, a wrong key, a revoked key, API_KEY, or a key holding exactly one scope. */
interface Caller {
  name: string;
  authorization: string | undefined;
  scope: Scope | 'every' | null;
}

describe('Every operation × every kind of key (e2e)', () => {
  let receiver: WebhookReceiver;
  let t: TestApp;
  let document: OpenAPIObject;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    t = await createTestApp({
      API_KEY,
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
      STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8',
    });
    document = (await request(t.server).get('/docs-json').set('authorization', ADMIN).expect(200))
      .body as OpenAPIObject;
  });

  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  const admin = (method: Method, path: string, body?: object) => {
    const call = request(t.server)[method](path).set('authorization', ADMIN);
    return body === undefined ? call : call.send(body);
  };

  async function newStep(): Promise<string> {
    return (
      (await admin('post', '/v1/steps', { run_id: 'run-1' }).expect(201)).body as { id: string }
    ).id;
  }

  async function newDelivery(): Promise<string> {
    const stepId = await newStep();
    await admin('post', `/v1/steps/${stepId}/success`, {}).expect(200);
    const deliveries = await admin('get', `/v1/steps/${stepId}/deliveries`).expect(200);
    return (deliveries.body as Array<{ id: string }>)[0].id;
  }

  async function newEndpoint(): Promise<string> {
    const created = await admin('post', '/v1/webhook-endpoints', { url: receiver.url('/ep') });
    expect(created.status).toBe(201);
    return (created.body as { id: string }).id;
  }

  async function newKey(scopes: Scope[]): Promise<{ id: string; key: string }> {
    const created = await admin('post', '/v1/api-keys', { name: 'matrix', scopes }).expect(201);
    return created.body as { id: string; key: string };
  }

  /** The scope SPEC §10 gives each operation (the document must say the same). */
  const SCOPE_OF: Record<string, Scope | 'open' | 'any key'> = {
    'GET /health': 'open',
    'GET /ready': 'open',
    'GET /metrics': 'metrics:read',
    'POST /v1/steps': 'steps:write',
    'GET /v1/steps': 'steps:read',
    'GET /v1/steps/{step_id}': 'steps:read',
    'POST /v1/steps/{step_id}/success': 'steps:write',
    'POST /v1/steps/{step_id}/error': 'steps:write',
    'POST /v1/steps/{step_id}/cancel': 'steps:write',
    'PATCH /v1/steps/{step_id}/feedback': 'steps:write',
    'PUT /v1/steps/{step_id}/metrics': 'steps:write',
    'GET /v1/steps/{step_id}/metrics': 'steps:read',
    'GET /v1/steps/{step_id}/deliveries': 'deliveries:read',
    'GET /v1/runs/{run_id}/steps': 'steps:read',
    'GET /v1/webhook-deliveries': 'deliveries:read',
    'GET /v1/webhook-deliveries/summary': 'deliveries:read',
    'GET /v1/webhook-deliveries/{id}': 'deliveries:read',
    'POST /v1/webhook-deliveries/{id}/retry': 'deliveries:write',
    'POST /v1/webhook-deliveries/recover': 'deliveries:write',
    'POST /v1/webhook-endpoints': 'endpoints:write',
    'GET /v1/webhook-endpoints': 'endpoints:read',
    'GET /v1/webhook-endpoints/{id}': 'endpoints:read',
    'GET /v1/webhook-endpoints/{id}/stats': 'endpoints:read',
    'PATCH /v1/webhook-endpoints/{id}': 'endpoints:write',
    'DELETE /v1/webhook-endpoints/{id}': 'endpoints:write',
    'GET /v1/webhook-endpoints/{id}/secret': 'endpoints:write',
    'POST /v1/webhook-endpoints/{id}/secret/rotate': 'endpoints:write',
    'POST /v1/api-keys': 'admin',
    'GET /v1/api-keys': 'admin',
    'GET /v1/api-keys/current': 'any key',
    'GET /v1/api-keys/{id}': 'admin',
    'DELETE /v1/api-keys/{id}': 'admin',
  };

  const VALID: Record<string, ValidRequest> = {
    'GET /health': async () => ({ path: '/health' }),
    'GET /ready': async () => ({ path: '/ready' }),
    'GET /metrics': async () => ({ path: '/metrics' }),
    'POST /v1/steps': async () => ({ path: '/v1/steps', body: {} }),
    'GET /v1/steps': async () => ({ path: '/v1/steps' }),
    'GET /v1/steps/{step_id}': async () => ({ path: `/v1/steps/${await newStep()}` }),
    'POST /v1/steps/{step_id}/success': async () => ({
      path: `/v1/steps/${await newStep()}/success`,
      body: {},
    }),
    'POST /v1/steps/{step_id}/error': async () => ({
      path: `/v1/steps/${await newStep()}/error`,
      body: { error_type: 'E', error_message: 'm' },
    }),
    'POST /v1/steps/{step_id}/cancel': async () => ({
      path: `/v1/steps/${await newStep()}/cancel`,
      body: {},
    }),
    'PATCH /v1/steps/{step_id}/feedback': async () => ({
      path: `/v1/steps/${await newStep()}/feedback`,
      body: { feedback: 'positive' },
    }),
    'PUT /v1/steps/{step_id}/metrics': async () => ({
      path: `/v1/steps/${await newStep()}/metrics`,
      body: { step_ns: 1 },
    }),
    'GET /v1/steps/{step_id}/metrics': async () => {
      const stepId = await newStep();
      await admin('put', `/v1/steps/${stepId}/metrics`, { step_ns: 1 }).expect(200);
      return { path: `/v1/steps/${stepId}/metrics` };
    },
    'GET /v1/steps/{step_id}/deliveries': async () => ({
      path: `/v1/steps/${await newStep()}/deliveries`,
    }),
    'GET /v1/runs/{run_id}/steps': async () => ({ path: '/v1/runs/run-1/steps' }),
    'GET /v1/webhook-deliveries': async () => ({ path: '/v1/webhook-deliveries' }),
    'GET /v1/webhook-deliveries/summary': async () => ({ path: '/v1/webhook-deliveries/summary' }),
    'GET /v1/webhook-deliveries/{id}': async () => ({
      path: `/v1/webhook-deliveries/${await newDelivery()}`,
    }),
    'POST /v1/webhook-deliveries/{id}/retry': async () => ({
      path: `/v1/webhook-deliveries/${await newDelivery()}/retry`,
    }),
    'POST /v1/webhook-deliveries/recover': async () => ({
      path: '/v1/webhook-deliveries/recover',
      body: { since: '2026-01-01T00:00:00Z' },
    }),
    'POST /v1/webhook-endpoints': async () => ({
      path: '/v1/webhook-endpoints',
      body: { url: receiver.url('/ep') },
    }),
    'GET /v1/webhook-endpoints': async () => ({ path: '/v1/webhook-endpoints' }),
    'GET /v1/webhook-endpoints/{id}': async () => ({
      path: `/v1/webhook-endpoints/${await newEndpoint()}`,
    }),
    'GET /v1/webhook-endpoints/{id}/stats': async () => ({
      path: `/v1/webhook-endpoints/${await newEndpoint()}/stats`,
    }),
    'PATCH /v1/webhook-endpoints/{id}': async () => ({
      path: `/v1/webhook-endpoints/${await newEndpoint()}`,
      body: { description: 'changed' },
    }),
    'DELETE /v1/webhook-endpoints/{id}': async () => ({
      path: `/v1/webhook-endpoints/${await newEndpoint()}`,
    }),
    'GET /v1/webhook-endpoints/{id}/secret': async () => ({
      path: `/v1/webhook-endpoints/${await newEndpoint()}/secret`,
    }),
    'POST /v1/webhook-endpoints/{id}/secret/rotate': async () => ({
      path: `/v1/webhook-endpoints/${await newEndpoint()}/secret/rotate`,
    }),
    'POST /v1/api-keys': async () => ({
      path: '/v1/api-keys',
      body: { name: 'made in the matrix', scopes: ['steps:read'] },
    }),
    'GET /v1/api-keys': async () => ({ path: '/v1/api-keys' }),
    'GET /v1/api-keys/current': async () => ({ path: '/v1/api-keys/current' }),
    'GET /v1/api-keys/{id}': async () => ({
      path: `/v1/api-keys/${(await newKey(['steps:read'])).id}`,
    }),
    'DELETE /v1/api-keys/{id}': async () => ({
      path: `/v1/api-keys/${(await newKey(['steps:read'])).id}`,
    }),
  };

  function operations(): Array<{ name: string; method: Method; operation: Operation }> {
    return Object.entries(document.paths).flatMap(([template, methods]) =>
      Object.entries(methods as Record<string, Operation>).map(([method, operation]) => ({
        name: `${method.toUpperCase()} ${template}`,
        method: method as Method,
        operation,
      })),
    );
  }

  function scopeOf(operation: Operation): string {
    const security = operation.security ?? [];
    if (security.length === 0) return 'open';
    return security[0].bearer?.[0] ?? 'any key';
  }

  it('answers each documented operation to each caller exactly as the document says: 2xx, 401 or 403', async () => {
    const revoked = await newKey(['admin', ...SCOPES.filter((scope) => scope !== 'admin')]);
    await admin('delete', `/v1/api-keys/${revoked.id}`).expect(204);
    const callers: Caller[] = [
      { name: 'no key', authorization: undefined, scope: null },
      {
        name: 'a wrong key',
        authorization: `Bearer shk_${randomBytes(32).toString('base64url')}`,
        scope: null,
      },
      { name: 'a revoked key', authorization: `Bearer ${revoked.key}`, scope: null },
      { name: 'API_KEY', authorization: ADMIN, scope: 'every' },
    ];
    for (const scope of SCOPES) {
      const { key } = await newKey([scope]);
      callers.push({ name: `a ${scope} key`, authorization: `Bearer ${key}`, scope });
    }

    const listed = operations();
    // Every operation has a valid request here, so a new route cannot slip past the matrix.
    expect(listed.map(({ name }) => name).sort()).toEqual(Object.keys(VALID).sort());
    expect(
      Object.fromEntries(listed.map(({ name, operation }) => [name, scopeOf(operation)])),
    ).toEqual(SCOPE_OF);

    const wrong: string[] = [];
    let sent = 0;
    for (const { name, method, operation } of listed) {
      const security = operation.security ?? [];
      const open = security.length === 0;
      const needed = security[0]?.bearer?.[0] as Scope | undefined;
      const success = Object.keys(operation.responses).filter((status) => status.startsWith('2'));
      expect([name, success.length]).toEqual([name, 1]);
      for (const caller of callers) {
        const { path, body } = await VALID[name]();
        let call = request(t.server)[method](path);
        if (caller.authorization) call = call.set('authorization', caller.authorization);
        const response = await (body === undefined ? call : call.send(body));
        sent += 1;
        const expected = open
          ? Number(success[0])
          : caller.scope === null
            ? 401
            : caller.scope === 'every' || needed === undefined || caller.scope === needed
              ? Number(success[0])
              : 403;
        const documented = Object.keys(operation.responses).includes(String(response.status));
        const message = (response.body as { message?: unknown }).message;
        const rightWords =
          response.status !== 403 || message === `This key lacks the scope ${needed}`;
        if (response.status !== expected || !documented || !rightWords) {
          wrong.push(
            `${name} by ${caller.name}: ${response.status} (expected ${expected}) ${
              response.status >= 400 ? JSON.stringify(message) : ''
            }`,
          );
        }
      }
    }
    process.stdout.write(
      `API key matrix: ${listed.length} operations × ${callers.length} callers = ${sent} requests, ` +
        `${wrong.length === 0 ? 'all as documented' : `${wrong.length} not as documented`}\n`,
    );
    expect(wrong).toEqual([]);
    expect(sent).toBe(listed.length * callers.length);
  }, 120_000);

  it('declares an access rule on every route of the app: a scope, any key, or open', () => {
    const reflector = t.app.get(Reflector);
    const undeclared: string[] = [];
    let routes = 0;
    for (const module of t.app.get(ModulesContainer).values()) {
      for (const wrapper of module.controllers.values()) {
        const controller = wrapper.metatype as (new (...args: never[]) => object) | null;
        if (!controller) continue;
        const prototype = controller.prototype as Record<string, unknown>;
        for (const method of Object.getOwnPropertyNames(prototype)) {
          const handler = prototype[method];
          if (typeof handler !== 'function' || method === 'constructor') continue;
          if (Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
          routes += 1;
          const declared =
            reflector.getAllAndOverride(REQUIRED_SCOPE, [handler, controller]) ??
            reflector.getAllAndOverride(ACCESS, [handler, controller]);
          if (declared === undefined) {
            const verb = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
            undeclared.push(`${controller.name}.${method} (${verb})`);
          }
        }
      }
    }
    // Every documented operation, and the dashboard's page and files (left out of the document).
    expect(routes).toBe(operations().length + 2);
    expect(undeclared).toEqual([]);
  });
});
