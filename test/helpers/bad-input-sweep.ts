import type { OpenAPIObject } from '@nestjs/swagger';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { DeliveryAttempt } from '../../src/webhook/entities/delivery-attempt.entity.js';
import { WebhookDelivery } from '../../src/webhook/entities/webhook-delivery.entity.js';
import { WebhookEndpoint } from '../../src/webhook/endpoints/entities/webhook-endpoint.entity.js';
import { StepMetrics } from '../../src/steps/entities/step-metrics.entity.js';
import { Step } from '../../src/steps/entities/step.entity.js';
import { ApiContract } from './api-contract.js';
import type { TestApp } from './test-app.js';
import type { WebhookReceiver } from './webhook-receiver.js';

/**
 * The generated bad-input sweep, shared by the SQLite e2e suite and the PostgreSQL services suite:
 * malformed requests of every kind, and a NUL character in every string the OpenAPI document lists
 * (body fields at any depth and their keys, query and path parameters). Each must get a 4xx in
 * Nest's shape, name its field where it is about one, and write nothing.
 */
/** A small seeded PRNG (mulberry32), so a failing case can be reproduced from its number. */
export function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Method = 'post' | 'put' | 'patch' | 'get' | 'delete';
interface Route {
  method: Method;
  path: (ids: Ids) => string;
  /** A body that the route accepts; mutations start from it. */
  valid: Record<string, unknown>;
  /** Fields and a value of the wrong type for each. */
  wrongTypes: Record<string, unknown[]>;
  required: string[];
}
export interface Ids {
  step: string;
  delivery: string;
  endpoint: string;
}
export interface BadRequest {
  method: Method;
  path: string;
  contentType: string;
  body: string | Buffer | undefined;
  kind: string;
  /** What a 400 for it must say (the field it names), when the request is refused for one field. */
  names?: string;
}

const text = [42, true, ['a'], { a: 1 }];
const count = ['12', 1.5, -1, 2_147_483_648, true, [], {}, '1e3'];
const nanos = [-1, 1.5, 'abc', '18446744073709551616', true, [], {}, '9223372036854775808'];
const object = ['x', 1, true, ['a']];
const endpointUrl = [1, true, 'ftp://example.com/x', 'https://u:p@example.com/x', 'not a url', {}];
const endpointFilter = ['x', 1, [1], { statuses: 'success' }, { agent_ids: [1] }, { nope: [] }];
const endpointHeaders = ['x', [1], { 'webhook-id': 'x' }, { 'a b': 'c' }, { x: 1 }, { host: 'h' }];

const ROUTES: Route[] = [
  {
    method: 'post',
    path: () => '/v1/steps',
    valid: { agent_id: 'a', run_id: 'r', tags: ['t'], prompt_tokens: 1 },
    wrongTypes: {
      agent_id: text,
      run_id: text,
      model: text,
      tags: ['a', 1, { a: 1 }, [1]],
      prompt_tokens: count,
      context_window_limit: count,
      id: ['step-1', 7, 'STEP-' + 'a'.repeat(36)],
      prompt_tokens_details: object,
    },
    required: [],
  },
  {
    method: 'post',
    path: (ids) => `/v1/steps/${ids.step}/success`,
    valid: { usage: { prompt_tokens: 1 }, stop_reason: 'end_turn', metrics: { step_ns: 1 } },
    wrongTypes: {
      usage: ['x', 1, [1]],
      stop_reason: ['done', 1, []],
      metrics: ['x', 1, [1]],
    },
    required: [],
  },
  {
    method: 'post',
    path: (ids) => `/v1/steps/${ids.step}/error`,
    valid: { error_type: 'E', error_message: 'm', error_traceback: 't', error_details: { a: 1 } },
    wrongTypes: {
      error_type: text,
      error_message: text,
      error_traceback: text,
      error_details: object,
      stop_reason: ['x', 1],
    },
    required: ['error_type', 'error_message'],
  },
  {
    method: 'post',
    path: (ids) => `/v1/steps/${ids.step}/cancel`,
    valid: { stop_reason: 'cancelled' },
    wrongTypes: { stop_reason: ['nope', 1, true, {}] },
    required: [],
  },
  {
    method: 'patch',
    path: (ids) => `/v1/steps/${ids.step}/feedback`,
    valid: { feedback: 'positive', tags: ['a'] },
    wrongTypes: { feedback: ['good', 1, true, {}], tags: ['a', [1], {}] },
    required: ['feedback'],
  },
  {
    method: 'put',
    path: (ids) => `/v1/steps/${ids.step}/metrics`,
    valid: { step_ns: 1, llm_request_ns: '2' },
    wrongTypes: {
      step_ns: nanos,
      llm_request_ns: nanos,
      step_start_ns: nanos,
      tool_execution_ns: nanos,
    },
    required: [],
  },
  {
    method: 'post',
    path: () => '/v1/webhook-endpoints',
    valid: {
      url: 'https://example.com/hook',
      filter: { statuses: ['success'], tags: ['t'] },
      payload: 'full',
      headers: { 'x-team': 'a' },
    },
    wrongTypes: {
      url: endpointUrl,
      description: text,
      filter: endpointFilter,
      payload: ['huge', 1, []],
      headers: endpointHeaders,
      disabled: ['yes', 1, {}],
    },
    required: ['url'],
  },
  {
    method: 'patch',
    path: (ids) => `/v1/webhook-endpoints/${ids.endpoint}`,
    valid: { description: 'd', filter: { agent_ids: ['a'] } },
    wrongTypes: {
      url: endpointUrl,
      filter: endpointFilter,
      headers: endpointHeaders,
      disabled: ['no', 0, []],
    },
    required: [],
  },
  {
    method: 'post',
    path: () => '/v1/webhook-deliveries/recover',
    valid: { since: '2026-01-01T00:00:00Z' },
    wrongTypes: {
      since: ['yesterday', 1, true, {}, '2026-13-01'],
      endpoint_id: ['ep_1', 1, 'ENV', []],
    },
    required: ['since'],
  },
];

const ID_ROUTES: Array<{ method: Method; path: (id: string) => string }> = [
  { method: 'get', path: (id) => `/v1/steps/${id}` },
  { method: 'post', path: (id) => `/v1/steps/${id}/success` },
  { method: 'post', path: (id) => `/v1/steps/${id}/cancel` },
  { method: 'get', path: (id) => `/v1/steps/${id}/metrics` },
  { method: 'put', path: (id) => `/v1/steps/${id}/metrics` },
  { method: 'get', path: (id) => `/v1/webhook-deliveries/${id}` },
  { method: 'post', path: (id) => `/v1/webhook-deliveries/${id}/retry` },
  { method: 'get', path: (id) => `/v1/webhook-endpoints/${id}` },
  { method: 'patch', path: (id) => `/v1/webhook-endpoints/${id}` },
  { method: 'delete', path: (id) => `/v1/webhook-endpoints/${id}` },
  { method: 'get', path: (id) => `/v1/webhook-endpoints/${id}/secret` },
  { method: 'post', path: (id) => `/v1/webhook-endpoints/${id}/secret/rotate` },
  { method: 'get', path: (id) => `/v1/webhook-endpoints/${id}/stats` },
];

const QUERIES = [
  'limit=0',
  'limit=1001',
  'limit=-5',
  'limit=abc',
  'limit=1e3',
  'order=up',
  'order_by=id',
  'status=ok',
  'feedback=1',
  'has_feedback=2',
  'start_date=now',
  'end_date=2026-02-30T00:00:00Z',
  'after=x',
  'before=step-1',
  'unknown=1',
  'agent_id=' + 'a'.repeat(600),
  'endpoint_id=ep_x',
  'after=msg_1',
];

/**
 * `total` malformed requests drawn from the generators below; `nul` are NUL requests (see
 * nulRequests), one generator among the others.
 */
export function generate(
  random: () => number,
  ids: Ids,
  total: number,
  nul: readonly BadRequest[] = [],
): BadRequest[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const json = 'application/json';
  const generators: Array<() => BadRequest> = [
    () => {
      const route = pick(ROUTES);
      const bytes = Buffer.from(
        Array.from({ length: 1 + Math.floor(random() * 200) }, () => Math.floor(random() * 256)),
      );
      // A leading NUL byte keeps the bytes from ever being valid JSON.
      return {
        method: route.method,
        path: route.path(ids),
        contentType: json,
        body: Buffer.concat([Buffer.from([0]), bytes]),
        kind: 'random bytes',
      };
    },
    () => {
      const route = pick(ROUTES);
      const field = pick(Object.keys(route.wrongTypes));
      const body = { ...route.valid, [field]: pick(route.wrongTypes[field]) };
      return {
        method: route.method,
        path: route.path(ids),
        contentType: json,
        body: JSON.stringify(body),
        kind: `wrong type for ${field}`,
      };
    },
    () => {
      const route = pick(
        ROUTES.filter((r) =>
          Object.values(r.wrongTypes).some((values) => values === count || values === nanos),
        ),
      );
      const field = pick(
        Object.keys(route.wrongTypes).filter(
          (f) => route.wrongTypes[f] === count || route.wrongTypes[f] === nanos,
        ),
      );
      const huge = pick([
        '1e308',
        '1e400',
        '-1e20',
        '18446744073709551616',
        '99999999999999999999999999',
        '-9223372036854775809',
      ]);
      const { [field]: _replaced, ...rest } = route.valid;
      const body = `{"${field}":${huge}${Object.keys(rest).length ? ',' : ''}${JSON.stringify(rest).slice(1)}`;
      return {
        method: route.method,
        path: route.path(ids),
        contentType: json,
        body,
        kind: `huge number in ${field}`,
      };
    },
    () => {
      const route = pick(ROUTES);
      const depth = 33 + Math.floor(random() * 5000);
      const nested = `${'['.repeat(depth)}1${']'.repeat(depth)}`;
      const body = JSON.stringify(route.valid).replace(/^\{/, `{"deep":${nested},`);
      return {
        method: route.method,
        path: route.path(ids),
        contentType: json,
        body,
        kind: `nesting ${depth} deep`,
      };
    },
    () => {
      const route = pick(ID_ROUTES);
      const id = pick([
        'x',
        ids.step.toUpperCase(),
        ids.step.replace(/-4/, '-1'),
        `${ids.step}0`,
        ids.delivery.replace('msg_', 'mgs_'),
        `msg_${'g'.repeat(32)}`,
        ids.endpoint.toUpperCase(),
        `${ids.endpoint}0`,
        'ep_',
        '%00',
        '..%2f..%2fetc%2fpasswd',
        "' OR 1=1 --",
        'step-' + 'f'.repeat(36),
      ]);
      const body =
        route.method === 'put'
          ? JSON.stringify({ step_ns: 1 })
          : route.method === 'patch'
            ? JSON.stringify({ disabled: true })
            : undefined;
      return {
        method: route.method,
        path: route.path(encodeURIComponent(id).replace(/%25/g, '%')),
        contentType: json,
        body,
        kind: `invalid id ${id}`,
      };
    },
    () => {
      const route = pick(ROUTES.filter((r) => r.required.length > 0));
      const field = pick(route.required);
      const { [field]: _omitted, ...body } = route.valid;
      return {
        method: route.method,
        path: route.path(ids),
        contentType: json,
        body: JSON.stringify(body),
        kind: `missing ${field}`,
      };
    },
    () => {
      const route = pick(ROUTES);
      const contentType = pick([
        'text/plain',
        'application/xml',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'image/png',
      ]);
      return {
        method: route.method,
        path: route.path(ids),
        contentType,
        body: JSON.stringify(route.valid),
        kind: `content type ${contentType}`,
      };
    },
    () => {
      const route = pick(ROUTES);
      const size = 1024 * 1024 + 1 + Math.floor(random() * 100_000);
      const body = JSON.stringify({ ...route.valid, padding: 'x'.repeat(size) });
      return {
        method: route.method,
        path: route.path(ids),
        contentType: json,
        body,
        kind: `oversized ${body.length} bytes`,
      };
    },
    () => {
      const route = pick(ROUTES);
      const body = {
        ...route.valid,
        [pick(['colour', '__proto__', 'constructor', 'status', 'created_at', 'completed_at'])]: 1,
      };
      return {
        method: route.method,
        path: route.path(ids),
        contentType: json,
        body: JSON.stringify(body),
        kind: 'unknown field',
      };
    },
    () => {
      const route = pick(ROUTES);
      const body = pick(['[]', '"text"', '42', 'null', 'true', '[{"agent_id":"a"}]']);
      return {
        method: route.method,
        path: route.path(ids),
        contentType: json,
        body,
        kind: `top-level ${body}`,
      };
    },
    () => {
      const base = pick([
        '/v1/steps',
        `/v1/runs/r/steps`,
        '/v1/webhook-deliveries',
        '/v1/webhook-endpoints',
      ]);
      return {
        method: 'get',
        path: `${base}?${pick(QUERIES)}`,
        contentType: json,
        body: undefined,
        kind: 'bad query',
      };
    },
  ];
  if (nul.length > 0) generators.push(() => pick(nul));
  return Array.from({ length: total }, () => pick(generators)());
}

interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  oneOf?: Schema[];
  allOf?: Schema[];
}
interface Operation {
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}

const NUL_TEXT = 'a\u0000b';

/** One request per string the document lists, each holding NUL; `names` is the 400's field. */
export function nulRequests(document: OpenAPIObject, ids: Ids): BadRequest[] {
  const schemas = (document.components?.schemas ?? {}) as Record<string, Schema>;
  const isNullOnly = (schema: Schema) => schema.enum?.length === 1 && schema.enum[0] === null;
  const deref = (schema: Schema): Schema => {
    if (schema.$ref) return deref(schemas[schema.$ref.split('/').pop()!]);
    if (schema.allOf?.length === 1) return deref(schema.allOf[0]);
    const branches = schema.oneOf?.filter((branch) => !isNullOnly(branch));
    if (branches?.length === 1) return deref(branches[0]);
    return schema;
  };
  const validValue = (schema: Schema): unknown => {
    const s = deref(schema);
    if (s.enum) return s.enum.find((value) => value !== null);
    if (s.format === 'date-time') return '2026-11-28T00:00:00Z';
    if (s.format === 'uri') return 'https://example.com/hook';
    if (s.type === 'object') return validBody(s);
    return 'a';
  };
  const validBody = (schema: Schema): Record<string, unknown> =>
    Object.fromEntries(
      (schema.required ?? []).map((name) => [name, validValue(schema.properties![name])]),
    );
  /** [body with NUL somewhere, what the 400 names] for every string under `schema`. */
  const poisoned = (
    schema: Schema,
    base: Record<string, unknown>,
    prefix: string,
  ): Array<[Record<string, unknown>, string]> => {
    const here = prefix ? `in ${prefix} ` : '';
    const out: Array<[Record<string, unknown>, string]> = [
      [{ ...base, 'k\u0000': 1 }, `field name "k\\u0000" ${here}must not contain NUL characters`],
    ];
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      const s = deref(property);
      const dotted = prefix ? `${prefix}.${name}` : name;
      const branches = s.oneOf?.map(deref) ?? [s];
      if (branches.some((branch) => branch.type === 'string')) {
        out.push([{ ...base, [name]: NUL_TEXT }, `${dotted} must not contain NUL characters`]);
      } else if (s.type === 'array') {
        out.push([{ ...base, [name]: [NUL_TEXT] }, `${dotted}[0] must not contain NUL characters`]);
      } else if (s.type === 'object' && s.properties) {
        for (const [inner, names] of poisoned(s, validBody(s), dotted))
          out.push([{ ...base, [name]: inner }, names]);
      } else if (s.type === 'object' && s.additionalProperties) {
        out.push([{ ...base, [name]: { k: NUL_TEXT } }, `${dotted}.k must not contain NUL`]);
        out.push([{ ...base, [name]: { 'k\u0000': 'v' } }, `field name "k\\u0000" in ${dotted}`]);
      }
    }
    return out;
  };
  const idFor = (template: string, parameter: string): string =>
    parameter === 'step_id'
      ? ids.step
      : parameter === 'run_id'
        ? 'run-1'
        : template.startsWith('/v1/webhook-endpoints')
          ? ids.endpoint
          : ids.delivery;
  const json = 'application/json';

  const requests: BadRequest[] = [];
  for (const [template, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods as Record<string, Operation>)) {
      const pathWith = (nulIn?: string) =>
        template.replace(/\{(\w+)\}/g, (_, name: string) =>
          name === nulIn ? 'a%00b' : encodeURIComponent(idFor(template, name)),
        );
      const schema = operation.requestBody?.content[json]?.schema;
      const bodySchema = schema ? deref(schema) : undefined;
      const base = bodySchema ? validBody(bodySchema) : undefined;
      const body = base ? JSON.stringify(base) : undefined;
      const call = { method: method as Method, contentType: json };
      for (const parameter of operation.parameters ?? []) {
        const where = parameter.in === 'path' ? 'path' : 'query';
        requests.push({
          ...call,
          path:
            where === 'path' ? pathWith(parameter.name) : `${pathWith()}?${parameter.name}=a%00b`,
          body,
          kind: `NUL in ${where} ${parameter.name}`,
          names: `${where} ${parameter.name} must not contain NUL characters`,
        });
      }
      for (const [poisonedBody, names] of bodySchema ? poisoned(bodySchema, base!, '') : []) {
        requests.push({
          ...call,
          path: pathWith(),
          body: JSON.stringify(poisonedBody),
          kind: `NUL: ${names}`,
          names,
        });
      }
    }
  }
  return requests;
}

/** Every row stephook keeps, in a stable order, so a refused request can be shown to write nothing. */
export async function snapshot(dataSource: DataSource): Promise<string> {
  const tables = await Promise.all(
    [Step, StepMetrics, WebhookDelivery, DeliveryAttempt, WebhookEndpoint].map(async (entity) =>
      (await dataSource.getRepository(entity).find()).map((row) => JSON.stringify(row)).sort(),
    ),
  );
  return JSON.stringify(tables);
}

/**
 * What the sweep needs to exist: a pending step, a delivered delivery (the app's receiver is
 * `receiver`) and an endpoint that hears nobody.
 */
export async function prepareSweep(t: TestApp, receiver: WebhookReceiver): Promise<Ids> {
  const step = (await request(t.server).post('/v1/steps').send({ agent_id: 'sweep' }).expect(201))
    .body.id as string;
  const done = (await request(t.server).post('/v1/steps').send({}).expect(201)).body.id as string;
  await request(t.server).post(`/v1/steps/${done}/success`).send({}).expect(200);
  await receiver.waitForRequests(1);
  await t.logs.waitFor(
    (entry) => entry.message.includes(done) && entry.message.includes('delivered'),
  );
  const [delivery] = (await request(t.server).get(`/v1/steps/${done}/deliveries`).expect(200))
    .body as Array<{ id: string }>;
  const endpoint = (
    await request(t.server)
      .post('/v1/webhook-endpoints')
      .send({ url: 'https://example.com/hook', filter: { agent_ids: ['nobody'] } })
      .expect(201)
  ).body.id as string;
  return { step, delivery: delivery.id, endpoint };
}

export interface SweepResult {
  statuses: Map<number, number>;
  /** One line per request that got no 4xx, not Nest's shape, did not name its field, or wrote. */
  failures: string[];
}

/** Sends each request, one at a time, checking each answer and that nothing was written. */
export async function runSweep(t: TestApp, requests: readonly BadRequest[]): Promise<SweepResult> {
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  for (const [index, bad] of requests.entries()) {
    const before = await snapshot(t.dataSource);
    const pending = request(t.server)[bad.method](bad.path).set('content-type', bad.contentType);
    const response = await (bad.body === undefined ? pending : pending.send(bad.body));
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    const message = JSON.stringify((response.body as { message?: unknown }).message);
    const where = `#${index} ${bad.kind}: ${bad.method.toUpperCase()} ${bad.path.slice(0, 120)} → ${response.status} ${String(message).slice(0, 200)}`;
    if (response.status < 400 || response.status >= 500) failures.push(`${where}: not a 4xx`);
    else if (typeof (response.body as { statusCode?: unknown }).statusCode !== 'number')
      failures.push(`${where}: not Nest's error shape`);
    else if (bad.names && !String(message).includes(JSON.stringify(bad.names).slice(1, -1)))
      failures.push(`${where}: does not say "${bad.names}"`);
    if ((await snapshot(t.dataSource)) !== before) failures.push(`${where}: wrote something`);
  }
  return { statuses, failures };
}

/** The OpenAPI document the app serves, as the contract check holds it. */
export function documentOf(t: TestApp): OpenAPIObject {
  return ApiContract.of(t.app).document;
}
