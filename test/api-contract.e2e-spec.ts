import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { OpenAPI } from 'openapi-types';
import request from 'supertest';
import { ApiContract } from './helpers/api-contract.js';
import { createTestApp, TestApp } from './helpers/test-app.js';

type Operation = {
  operationId: string;
  security?: unknown[];
  parameters?: { name: string; in: string; schema?: { pattern?: string } }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: { $ref?: string } }> };
  responses: Record<
    string,
    { content?: Record<string, unknown>; headers?: Record<string, unknown> }
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

  it('says which routes need the key: /health and /ready none, the rest the shared Bearer key', () => {
    for (const { path, operation } of operations()) {
      const open = path === '/health' || path === '/ready';
      expect({ path, security: operation.security }).toEqual({
        path,
        security: open ? [] : [{ bearer: [] }],
      });
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
    for (const { operation } of operations()) {
      const ref = operation.requestBody?.content['application/json'].schema.$ref;
      if (!ref) continue;
      const body = schema(ref.split('/').pop()!);
      expect(body.additionalProperties).toBe(false);
      for (const [name, property] of Object.entries(body.properties ?? {})) {
        if (!body.required?.includes(name))
          expect({ name, nullable: property.nullable }).toEqual({ name, nullable: true });
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
