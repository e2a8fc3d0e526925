import fc from 'fast-check';
import type { OpenAPIObject } from '@nestjs/swagger';
import request from 'supertest';
import { StepsApi } from './helpers/steps-api.js';
import { createTestApp, TestApp } from './helpers/test-app.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';

/**
 * Bad input generated from the OpenAPI document itself, for every route it lists: every body
 * property (nested ones included) set to null, to each wrong JSON type, past its bounds, huge, and
 * an unknown extra field; hostile query and path values; then random bodies from fast-check. Not one
 * answer may be a 5xx, and a 400 about one property names it. (Each answer is also held to the
 * document by createTestApp.)
 */
interface Schema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  maxLength?: number;
  maximum?: number;
  minItems?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  oneOf?: Schema[];
  allOf?: Schema[];
}
interface Operation {
  operationId: string;
  parameters?: { name: string; in: 'path' | 'query' }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}
interface Route {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  template: string;
  operation: Operation;
  body: Schema | null;
}
interface Answer {
  route: string;
  sent: string;
  status: number;
  message: unknown;
}

const WRONG_TYPES: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  'text',
  'nul\u0000',
  [],
  ['x'],
  ['nul\u0000'],
  {},
  { a: 1 },
  { 'nul\u0000': 'x' },
];
const HUGE = 'x'.repeat(300_000);
const HOSTILE_STRINGS = [
  '',
  'constructor',
  '__proto__',
  'null',
  '-1',
  '1.5',
  '1e309',
  '9'.repeat(40),
  '%00',
  'nul\u0000',
  '../..',
  "' OR 1=1 --",
  'x'.repeat(5_000),
];

describe('Bad input generated from the OpenAPI document (e2e)', () => {
  let receiver: WebhookReceiver;
  let t: TestApp;
  let steps: StepsApi;
  let document: OpenAPIObject;
  let deliveryId: string;
  let endpointId: string;
  const answers: Answer[] = [];

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    t = await createTestApp({
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
      STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8',
    });
    steps = new StepsApi(t.server);
    document = (await request(t.server).get('/docs-json').expect(200)).body as OpenAPIObject;
    const done = await steps.create();
    await steps.complete(done.id, 'success').expect(200);
    await receiver.waitForRequests(1);
    deliveryId = receiver.requests[0].headers['webhook-id'] as string;
    const endpoint = await request(t.server)
      .post('/v1/webhook-endpoints')
      .send({ url: receiver.url('/endpoint') })
      .expect(201);
    endpointId = (endpoint.body as { id: string }).id;
  });

  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  const deref = (schema: Schema): Schema => {
    if (schema.allOf?.length === 1) return deref(schema.allOf[0]);
    // A nullable $ref is a oneOf of the ref and null alone.
    const branches = schema.oneOf?.filter((branch) => !branch.enum?.includes(null));
    if (schema.oneOf && branches?.length === 1) return deref(branches[0]);
    return schema.$ref
      ? deref(document.components!.schemas![schema.$ref.split('/').pop()!] as Schema)
      : schema;
  };

  const routes = (): Route[] =>
    Object.entries(document.paths).flatMap(([template, methods]) =>
      Object.entries(methods as Record<string, Operation>).map(([method, operation]) => {
        const schema = operation.requestBody?.content['application/json']?.schema;
        return {
          method: method as Route['method'],
          template,
          operation,
          body: schema ? deref(schema) : null,
        };
      }),
    );

  /** A value the schema accepts, for building a body around the one property under test. */
  function validValue(schema: Schema): unknown {
    const s = deref(schema);
    if (s.enum) return s.enum.find((value) => value !== null);
    if (s.oneOf) return validValue(s.oneOf[0]);
    if (s.format === 'date-time') return '2026-11-28T00:00:00Z';
    if (s.format === 'uri') return receiver.url('/generated');
    if (s.type === 'integer' || s.type === 'number') return 1;
    if (s.type === 'boolean') return true;
    // As few items as the array takes (a key's scopes: at least one).
    if (s.type === 'array') return s.minItems ? [validValue(s.items!)] : [];
    if (s.type === 'object') return validBody(s);
    return 'a';
  }
  function validBody(schema: Schema): Record<string, unknown> {
    return Object.fromEntries(
      (schema.required ?? []).map((name) => [name, validValue(schema.properties![name])]),
    );
  }

  /** A pending step per call, so terminal routes are tried on a step they could change. */
  async function pathOf(route: Route, override?: string): Promise<string> {
    let path = route.template;
    for (const name of path.match(/\{(\w+)\}/g) ?? []) {
      const value =
        override ??
        (name === '{step_id}'
          ? (await steps.create()).id
          : name === '{id}'
            ? route.template.startsWith('/v1/webhook-endpoints')
              ? endpointId
              : deliveryId
            : 'run-1');
      path = path.replace(name, encodeURIComponent(value));
    }
    return path;
  }

  async function send(route: Route, path: string, body: unknown, sent: string): Promise<void> {
    let call = request(t.server)[route.method](path);
    if (body !== undefined)
      call = call.set('content-type', 'application/json').send(JSON.stringify(body));
    const response = await call;
    answers.push({
      route: `${route.method.toUpperCase()} ${route.template}`,
      sent,
      status: response.status,
      message: (response.body as { message?: unknown }).message,
    });
  }

  /** [dotted name, schema] of every body property, nested objects' properties included. */
  function properties(schema: Schema, prefix = ''): [string, Schema][] {
    return Object.entries(schema.properties ?? {}).flatMap(([name, property]) => {
      const resolved = deref(property);
      const here: [string, Schema][] = [[`${prefix}${name}`, resolved]];
      return resolved.properties ? [...here, ...properties(resolved, `${prefix}${name}.`)] : here;
    });
  }

  function withValue(
    base: Record<string, unknown>,
    dotted: string,
    value: unknown,
  ): Record<string, unknown> {
    const body = structuredClone(base);
    const keys = dotted.split('.');
    let target = body;
    for (const key of keys.slice(0, -1)) {
      target[key] = typeof target[key] === 'object' && target[key] !== null ? target[key] : {};
      target = target[key] as Record<string, unknown>;
    }
    target[keys.at(-1)!] = value;
    return body;
  }

  function outOfBounds(schema: Schema): unknown[] {
    const values: unknown[] = [HUGE];
    if (schema.maxLength !== undefined) values.push('y'.repeat(schema.maxLength + 1));
    if (schema.type === 'integer' || schema.oneOf) {
      values.push(2 ** 31, 2 ** 53 + 1, -(2 ** 63), 1e308, '99999999999999999999');
    }
    if (schema.type === 'array') values.push(Array.from({ length: 1_001 }, () => 't'));
    return values;
  }

  it('every body property: null, wrong types, out of bounds, and an unknown field never get a 5xx', async () => {
    for (const route of routes().filter((candidate) => candidate.body)) {
      const base = validBody(route.body!);
      for (const [name, schema] of properties(route.body!)) {
        for (const value of [...WRONG_TYPES, ...outOfBounds(schema)]) {
          const shown = JSON.stringify(value)?.slice(0, 40);
          await send(route, await pathOf(route), withValue(base, name, value), `${name}=${shown}`);
        }
      }
      await send(route, await pathOf(route), { ...base, not_a_field: 1 }, 'not_a_field=1');
      await send(route, await pathOf(route), null, 'body=null');
    }
    expect(answers.filter((answer) => answer.status >= 500)).toEqual([]);
    // Every route with a body was tried, the endpoint routes and their nested filter among them.
    const tried = new Set(answers.map((answer) => answer.route));
    for (const route of routes().filter((candidate) => candidate.body))
      expect(tried).toContain(`${route.method.toUpperCase()} ${route.template}`);
    expect(tried).toContain('POST /v1/webhook-endpoints');
    expect(tried).toContain('PATCH /v1/webhook-endpoints/{id}');
    expect(answers.some((answer) => answer.sent.startsWith('filter.statuses='))).toBe(true);
    // A 400 about one property names it (the last segment of a nested one).
    const unnamed = answers.filter(({ status, sent, message }) => {
      const field = sent.split('=')[0].split('.').at(-1)!;
      return status === 400 && field !== 'body' && !JSON.stringify(message).includes(field);
    });
    expect(unnamed).toEqual([]);
  }, 120_000);

  it('hostile query and path values never get a 5xx', async () => {
    for (const route of routes()) {
      const base = route.body ? validBody(route.body) : undefined;
      for (const parameter of route.operation.parameters ?? []) {
        for (const value of HOSTILE_STRINGS) {
          if (parameter.in === 'query') {
            const path = `${await pathOf(route)}?${parameter.name}=${encodeURIComponent(value)}`;
            await send(route, path, base, `?${parameter.name}=${value.slice(0, 20)}`);
          } else {
            await send(
              route,
              await pathOf(route, value),
              base,
              `{${parameter.name}}=${value.slice(0, 20)}`,
            );
          }
        }
      }
    }
    // NUL in any query or path value is a 400 naming the parameter, on every route.
    const nul = answers.filter((answer) => answer.sent.includes('nul\u0000'));
    expect(nul.length).toBeGreaterThan(50);
    expect(
      nul.filter(({ status, sent, message }) => {
        const name = sent.startsWith('?')
          ? sent.slice(1).split('=')[0]
          : sent.slice(1).split('}')[0];
        return status !== 400 || !JSON.stringify(message).includes(`${name} must not contain NUL`);
      }),
    ).toEqual([]);
    const endpointRoutes = new Set(
      answers
        .filter((answer) => answer.route.includes('/v1/webhook-endpoints'))
        .map((a) => a.route),
    );
    expect(endpointRoutes.size).toBeGreaterThanOrEqual(8);
    for (const asset of ['constructor', '__proto__', 'valueOf', 'toString', 'hasOwnProperty']) {
      await request(t.server).get(`/dashboard/${asset}`).expect(404);
    }
    expect(answers.filter((answer) => answer.status >= 500)).toEqual([]);
    expect(t.logs.entries.filter((entry) => entry.level === 'error')).toEqual([]);
  }, 120_000);

  it('random bodies (fast-check) never get a 5xx', async () => {
    const anyJson = fc.jsonValue({ maxDepth: 3 });
    for (const route of routes().filter((candidate) => candidate.body)) {
      const names = Object.keys(route.body!.properties ?? {});
      const body = fc.dictionary(fc.constantFrom(...names, 'extra'), anyJson, { maxKeys: 4 });
      await fc.assert(
        fc.asyncProperty(body, async (generated) => {
          let call = request(t.server)[route.method](await pathOf(route));
          call = call.set('content-type', 'application/json').send(JSON.stringify(generated));
          const response = await call;
          return response.status < 500;
        }),
        { numRuns: 60, seed: 20261201 },
      );
    }
  }, 120_000);
});
