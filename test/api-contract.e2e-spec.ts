import SwaggerParser from '@apidevtools/swagger-parser';
import fc from 'fast-check';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { OpenAPI } from 'openapi-types';
import request from 'supertest';
import { SCOPES } from '../src/auth/principal.js';
import { ApiContract, redoclyLint } from './helpers/api-contract.js';
import { createTestApp, TestApp } from './helpers/test-app.js';

type Operation = {
  operationId: string;
  description?: string;
  security?: unknown[];
  parameters?: { name: string; in: string; schema?: { pattern?: string } }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: { $ref?: string } }> };
  responses: Record<
    string,
    { description?: string; content?: Record<string, unknown>; headers?: Record<string, unknown> }
  >;
};
type Schema = {
  properties?: Record<string, Schema & { enum?: unknown[]; nullable?: boolean }>;
  additionalProperties?: unknown;
  required?: string[];
  type?: string;
  format?: string;
  pattern?: string;
  maxItems?: number;
  items?: Schema & { maxLength?: number };
  oneOf?: Schema[];
};

/**
 * The OpenAPI document at /docs-json is how generated clients and fuzzers meet stephook. It must be
 * a valid document, and say exactly what the server does: createTestApp holds every answer of every
 * e2e suite to it; this suite checks the document itself and that the check can fail.
 */
describe('The OpenAPI document (contract)', () => {
  let t: TestApp;
  let document: OpenAPIObject;
  const operations = () =>
    Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods as Record<string, Operation>).map(([method, operation]) => ({
        path,
        method,
        operation,
      })),
    );
  const schema = (name: string) => document.components!.schemas![name] as Schema;

  beforeAll(async () => {
    t = await createTestApp();
    document = (await request(t.server).get('/docs-json').expect(200)).body as OpenAPIObject;
  });
  afterAll(() => t.close());

  it('is a valid OpenAPI document', async () => {
    await expect(
      SwaggerParser.validate(structuredClone(document) as unknown as OpenAPI.Document),
    ).resolves.toBeDefined();
    expect(document.info.license?.name).toBe('MIT');
    expect(document.servers).toEqual([expect.objectContaining({ url: '/' })]);
  });

  it("lints with 0 errors under Redocly's recommended rules, and the lint can fail", async () => {
    const problems = await redoclyLint(document);
    const errors = problems
      .filter((problem) => problem.severity === 'error')
      .map((problem) => `${problem.ruleId} ${problem.location[0]?.pointer}: ${problem.message}`);
    expect(errors).toEqual([]);
    // The rule the document once broke: nullable without a type beside it.
    const broken = structuredClone(document);
    (broken.components!.schemas!.ErrorView as Schema).properties!.error = { nullable: true };
    const planted = await redoclyLint(broken);
    expect(planted.map((problem) => problem.ruleId)).toContain('nullable-type-sibling');
  }, 60_000);

  it('names operations as a client calls them, each once', () => {
    const ids = operations().map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(
      expect.arrayContaining([
        'createStep',
        'listSteps',
        'getStep',
        'completeStepSuccess',
        'completeStepError',
        'cancelStep',
        'setStepFeedback',
        'listRunSteps',
        'listDeliveries',
        'retryDelivery',
        'recoverDeliveries',
        'getHealth',
        'getReady',
      ]),
    );
  });

  it('says which routes need a key and which scope: /health and /ready none, /v1/api-keys/current any key, the rest one scope each', () => {
    for (const { path, operation } of operations()) {
      const open = path === '/health' || path === '/ready';
      const anyKey = path === '/v1/api-keys/current';
      const scopes = (operation.security?.[0] as { bearer?: string[] } | undefined)?.bearer ?? [];
      expect({ path, security: operation.security }).toEqual({
        path,
        security: open ? [] : [{ bearer: anyKey ? [] : [expect.any(String)] }],
      });
      if (open || anyKey) continue;
      expect(SCOPES).toContain(scopes[0]);
      expect(operation.description).toContain(`Needs a key with the scope \`${scopes[0]}\``);
      expect(operation.responses['403']?.description).toContain(scopes[0]);
    }
    expect(document.components!.securitySchemes!.bearer).not.toHaveProperty('bearerFormat');
  });

  it('documents 503 with Retry-After on every authenticated route, and errors as JSON', () => {
    for (const { path, operation } of operations()) {
      if (path === '/health' || path === '/ready') continue;
      expect(operation.responses['503']?.headers).toHaveProperty('Retry-After');
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) >= 400)
          expect(Object.keys(response.content ?? {})).toEqual(['application/json']);
      }
    }
  });

  it('describes request bodies as the server checks them', () => {
    const contract = ApiContract.of(t.app);
    for (const { operation } of operations()) {
      const ref = operation.requestBody?.content['application/json'].schema.$ref;
      if (!ref) continue;
      const body = schema(ref.split('/').pop()!);
      expect(body.additionalProperties).toBe(false);
      for (const [name, property] of Object.entries(body.properties ?? {})) {
        // Null means left out for every optional field but max_in_flight, which refuses it (null
        // there reads as "no limit", which does not exist), and a key's project_ids (null there
        // would read as "every project", too much to grant by accident): the document must say
        // the same.
        if (!body.required?.includes(name)) {
          const violation = contract.schemaViolation(`${ref} ${name}`, property, null);
          const refusesNull =
            name === 'max_in_flight' ||
            (ref.endsWith('/CreateApiKeyDto') && name === 'project_ids');
          if (refusesNull) expect(violation).not.toBeNull();
          else expect({ name, acceptsNull: violation }).toEqual({ name, acceptsNull: null });
        }
        if (property.enum && property.nullable) expect(property.enum).toContain(null);
      }
    }
    expect(schema('StepErrorDto').properties!.error_traceback.type).toBe('string');
    const cancel = document.paths['/v1/steps/{step_id}/cancel'].post as unknown as Operation;
    expect(cancel.requestBody?.required).toBe(false);
    const tags = schema('CreateStepDto').properties!.tags;
    expect(tags).toMatchObject({ maxItems: 100, items: { maxLength: 256 } });
    expect(schema('StepMetricsDto').properties!.step_ns.oneOf).toEqual([
      expect.objectContaining({ type: 'integer', format: 'int64' }),
      expect.objectContaining({ type: 'string', pattern: '^\\d{1,19}$' }),
      { type: 'string', nullable: true, enum: [null] },
    ]);
  });

  it('gives ids their patterns, and no run_id filter where the run is in the path', () => {
    expect(schema('StepView').properties!.id.pattern).toBeDefined();
    expect(schema('DeliveryView').properties!.id.pattern).toBe('^msg_[0-9a-f]{32}$');
    expect(schema('DeliveryView').properties!.last_outcome.enum).toContain(null);
    expect(schema('StepView').properties!.stop_reason.enum).toContain(null);
    const stepParam = (document.paths['/v1/steps/{step_id}'].get as unknown as Operation)
      .parameters!;
    expect(stepParam.find((p) => p.name === 'step_id')?.schema?.pattern).toBeDefined();
    const runSteps = (document.paths['/v1/runs/{run_id}/steps'].get as unknown as Operation)
      .parameters!;
    expect(runSteps.filter((p) => p.name === 'run_id').map((p) => p.in)).toEqual(['path']);
  });

  describe('endpoint bodies: the document accepts exactly what the server accepts', () => {
    const good = 'https://example.com/hook';
    const urls = [
      good,
      'http://[2001:db8::1]:8080/x?y=1',
      null,
      '日本語',
      'https://日本.jp/',
      1,
      'ftp://example.com/',
      'https://u:p@example.com/',
      'HTTPS://example.com/',
      'https://a b/',
      'https://example.com:70000/',
      `https://example.com/${'a'.repeat(2040)}`,
    ];
    const filters = [
      undefined,
      null,
      {},
      { statuses: ['failed'] },
      [{ statuses: ['failed'] }],
      'x',
      1,
      true,
      { statuses: [] },
      { agent_ids: [] },
      { tags: [] },
      { run_ids: null },
      { project_ids: ['p'] },
      { statuses: ['pending'] },
      { agent_ids: ['a'.repeat(513)] },
      { tags: Array.from({ length: 101 }, (_, i) => `t${i}`) },
      { nope: ['x'] },
      { tags: [1] },
    ];
    const values = [
      'Bearer a',
      'a \t b',
      '!~',
      '€uro',
      '日本',
      'a\u0001b',
      'a\r\nb',
      ' lead',
      'trail ',
      '',
      'v'.repeat(4096),
      'v'.repeat(4097),
      'caf\u00e9',
      1,
      null,
    ];
    const names = ['authorization', 'x-team', 'tostring', 'hasownproperty', 'get', 'accept'];
    const body = fc.record(
      {
        url: fc.constantFrom(...urls),
        description: fc.constantFrom(null, 'billing', 'd'.repeat(1025), 1),
        filter: fc.constantFrom(...filters),
        payload: fc.constantFrom(null, 'full', 'minimal', 'huge'),
        headers: fc.oneof(
          fc.constantFrom(null, [], 'x'),
          fc.dictionary(fc.constantFrom(...names), fc.constantFrom(...values), { maxKeys: 3 }),
          fc.constant(Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`x-${i}`, 'v']))),
        ),
        disabled: fc.constantFrom(null, true, false, 'yes'),
        max_in_flight: fc.constantFrom(null, 1, 16, 1000, 0, 1001, 1.5, -1, '16', [16]),
        rate_limit: fc.constantFrom(null, 0.01, 2.5, 10000, 0, 0.001, 10000.5, -1, '50', true),
      },
      { requiredKeys: [] },
    );

    /** Bodies where the two disagree, with what each said. */
    async function disagreements(
      method: 'post' | 'patch',
      path: string,
      template: string,
      bodies: readonly Record<string, unknown>[],
    ): Promise<string[]> {
      const contract = ApiContract.of(t.app);
      const found: string[] = [];
      for (const sent of bodies) {
        const documentSays = contract.requestViolation(method, template, sent);
        const response = await request(t.server)[method](path).send(sent);
        if (response.status >= 500 || (response.status >= 300 && response.status !== 400))
          found.push(`${JSON.stringify(sent).slice(0, 200)} → ${response.status}`);
        else if ((documentSays === null) !== response.status < 300)
          found.push(
            `${JSON.stringify(sent).slice(0, 200)}: document ${documentSays ?? 'accepts'}, ` +
              `server ${response.status} ${JSON.stringify(response.body.message)}`,
          );
      }
      return found;
    }

    it('agree on create and update for 300 generated bodies, and on the cases found by hand', async () => {
      const generated = fc.sample(body, { numRuns: 150, seed: 20261206 });
      const byHand = [
        ...urls.map((url) => ({ url })),
        ...filters.map((filter) => ({ url: good, filter })),
        ...values.map((value) => ({ url: good, headers: { 'x-a': value } })),
      ];
      const created = await request(t.server).post('/v1/webhook-endpoints').send({ url: good });
      const id = (created.body as { id: string }).id;
      const update = generated.map(({ url: _url, ...rest }) => rest);
      await expect(
        disagreements('post', '/v1/webhook-endpoints', '/v1/webhook-endpoints', [
          ...byHand,
          ...generated.map((generatedBody) => ({ url: good, ...generatedBody })),
        ]),
      ).resolves.toEqual([]);
      await expect(
        disagreements('patch', `/v1/webhook-endpoints/${id}`, '/v1/webhook-endpoints/{id}', [
          ...byHand,
          ...update,
        ]),
      ).resolves.toEqual([]);
    }, 120_000);

    it('disagree only on header names, which OpenAPI 3.0 cannot constrain (no propertyNames)', async () => {
      const refusedNames = [
        'user-agent',
        'traceparent',
        'expect',
        'content-type',
        'webhook-id',
        'host',
        'connection',
        'proxy-authorization',
        'a b',
        'x:y',
        '',
        'é',
        'n'.repeat(257),
      ];
      const found = await disagreements('post', '/v1/webhook-endpoints', '/v1/webhook-endpoints', [
        ...refusedNames.map((name) => ({ url: good, headers: { [name]: 'v' } })),
        { url: good, headers: { 'X-A': '1', 'x-a': '2' } },
      ]);
      expect(found).toHaveLength(refusedNames.length + 1);
      expect(found.every((line) => line.includes('document accepts, server 400'))).toBe(true);
      const headers = schema('CreateEndpointDto').properties!.headers as Schema & {
        description?: string;
      };
      expect(headers.description).toContain('user-agent');
    });

    it('states the rules as a validator reads them: url pattern, header bounds, non-empty lists', () => {
      const create = schema('CreateEndpointDto').properties!;
      expect(create.url).toMatchObject({ maxLength: 2048, pattern: expect.any(String) });
      expect(create.headers).toMatchObject({
        maxProperties: 20,
        additionalProperties: {
          type: 'string',
          minLength: 1,
          maxLength: 4096,
          pattern: expect.any(String),
        },
      });
      const filter = schema('EndpointFilterDto');
      for (const list of ['statuses', 'agent_ids', 'project_ids', 'run_ids', 'tags'])
        expect(filter.properties![list]).toMatchObject({
          type: 'array',
          minItems: 1,
          maxItems: 100,
        });
      expect(filter.additionalProperties).toBe(false);
      for (const name of ['CreateEndpointDto', 'UpdateEndpointDto']) {
        const limits = schema(name).properties!;
        expect(limits.max_in_flight).toEqual({
          type: 'integer',
          minimum: 1,
          maximum: 1000,
          default: 64,
          description: expect.any(String) as unknown,
        });
        expect(limits.rate_limit).toMatchObject({
          type: 'number',
          minimum: 0.01,
          maximum: 10000,
          nullable: true,
          default: null,
        });
      }
    });

    it('shows every endpoint with its limits and its breaker', () => {
      const view = schema('EndpointView');
      expect(view.required).toEqual(
        expect.arrayContaining(['max_in_flight', 'rate_limit', 'breaker']),
      );
      expect(view.properties!.rate_limit).toMatchObject({ type: 'number', nullable: true });
      const breaker = schema('EndpointBreakerView');
      expect(breaker.required).toEqual(
        expect.arrayContaining(['state', 'opened_at', 'unreachable_attempts', 'next_probe_at']),
      );
      expect(breaker.properties!.state.enum).toEqual(['closed', 'open']);
      expect(breaker.properties!.next_probe_at).toMatchObject({
        format: 'date-time',
        nullable: true,
      });
    });
  });

  it('catches an answer that breaks it (the check every e2e suite runs can fail)', () => {
    const contract = ApiContract.of(t.app);
    const json = 'application/json; charset=utf-8';
    expect(contract.violation('GET', '/health', 200, json, '{"status":"ok"}')).toBeNull();
    expect(contract.violation('GET', '/health', 200, json, '{"status":1}')).toContain('must be');
    expect(contract.violation('GET', '/health', 500, json, '{}')).toContain(
      'status not documented',
    );
    expect(
      contract.violation('GET', '/v1/webhook-deliveries', 200, json, '[{"id":"not-an-id"}]'),
    ).toContain('/0');
    expect(contract.violation('GET', '/no/such/route', 404, json, '{}')).toBeNull();
  });
});
