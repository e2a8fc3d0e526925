import request from 'supertest';
import { DeliveryAttempt } from '../src/webhook/entities/delivery-attempt.entity.js';
import { WebhookDelivery } from '../src/webhook/entities/webhook-delivery.entity.js';
import { WebhookEndpoint } from '../src/webhook/endpoints/entities/webhook-endpoint.entity.js';
import { StepMetrics } from '../src/steps/entities/step-metrics.entity.js';
import { Step } from '../src/steps/entities/step.entity.js';
import { createTestApp, TestApp } from './helpers/test-app.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';

/** A small seeded PRNG (mulberry32), so a failing case can be reproduced from its number. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Method = 'post' | 'put' | 'patch' | 'get' | 'delete';
interface Route {
  method: Method;
  path: (ids: Ids) => string;
  /** A body that the route accepts; mutations start from it. */
  valid: Record<string, unknown>;
  /** Fields and a value of the wrong type for each. */
  wrongTypes: Record<string, unknown[]>;
  required: string[];
}
interface Ids {
  step: string;
  delivery: string;
  endpoint: string;
}
interface BadRequest {
  method: Method;
  path: string;
  contentType: string;
  body: string | Buffer | undefined;
  kind: string;
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

function generate(random: () => number, ids: Ids, total: number): BadRequest[] {
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
  return Array.from({ length: total }, () => pick(generators)());
}

describe('Bad-input sweep (e2e)', () => {
  let receiver: WebhookReceiver;
  let t: TestApp;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    t = await createTestApp({
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
    });
  });

  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  async function snapshot(): Promise<string> {
    const tables = await Promise.all(
      [Step, StepMetrics, WebhookDelivery, DeliveryAttempt, WebhookEndpoint].map((entity) =>
        t.dataSource.getRepository(entity).find(),
      ),
    );
    return JSON.stringify(tables);
  }

  it('answers 600 generated malformed requests with a 4xx each, writes nothing for them, and stays up', async () => {
    const pendingStep = (
      await request(t.server).post('/v1/steps').send({ agent_id: 'sweep' }).expect(201)
    ).body.id as string;
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
    const ids = { step: pendingStep, delivery: delivery.id, endpoint };
    const random = prng(20261128);
    const statuses = new Map<number, number>();

    const requests = generate(random, ids, 600);
    for (const [index, bad] of requests.entries()) {
      const before = await snapshot();
      const pending = request(t.server)[bad.method](bad.path).set('content-type', bad.contentType);
      const response = await (bad.body === undefined ? pending : pending.send(bad.body));
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);

      const where = `#${index} ${bad.kind}: ${bad.method.toUpperCase()} ${bad.path.slice(0, 120)} → ${response.status} ${JSON.stringify(response.body).slice(0, 200)}`;
      expect({ where, clientError: response.status >= 400 && response.status < 500 }).toEqual({
        where,
        clientError: true,
      });
      expect({ where, shape: typeof response.body?.statusCode === 'number' }).toEqual({
        where,
        shape: true,
      });
      expect({ where, unchanged: (await snapshot()) === before }).toEqual({
        where,
        unchanged: true,
      });
    }

    await request(t.server).get('/health').expect(200, { status: 'ok' });
    await request(t.server).get(`/v1/steps/${pendingStep}`).expect(200);
    // The sweep reached the refusals it is meant to: bad input, bad content type, too large.
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([400, 413, 415]));
  }, 120_000);
});
