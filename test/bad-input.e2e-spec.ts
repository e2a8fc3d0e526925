import request from 'supertest';
import { StepMetrics } from '../src/steps/entities/step-metrics.entity.js';
import { Step } from '../src/steps/entities/step.entity.js';
import { WebhookEndpoint } from '../src/webhook/endpoints/entities/webhook-endpoint.entity.js';
import { StepsApi } from './helpers/steps-api.js';
import { createTestApp, TestApp } from './helpers/test-app.js';

/** Everything the database holds, so a rejected request can be shown to have written nothing. */
async function snapshot(t: TestApp): Promise<string> {
  const steps = await t.dataSource.getRepository(Step).find({ order: { id: 'ASC' } });
  const metrics = await t.dataSource.getRepository(StepMetrics).find({ order: { id: 'ASC' } });
  const endpoints = await t.dataSource
    .getRepository(WebhookEndpoint)
    .find({ order: { id: 'ASC' } });
  return JSON.stringify({ steps, metrics, endpoints });
}

describe('Bad input (e2e)', () => {
  let t: TestApp;
  let stepId: string;

  beforeAll(async () => {
    t = await createTestApp();
    stepId = (await new StepsApi(t.server).create({ agent_id: 'agent-1' })).id;
  });

  afterAll(() => t.close());

  const cases: Array<{
    name: string;
    method: 'post' | 'put' | 'patch';
    path: () => string;
    body: string;
    contentType?: string;
    status: number;
    names: string;
  }> = [
    {
      name: 'malformed JSON',
      method: 'post',
      path: () => '/v1/steps',
      body: '{"agent_id": ',
      status: 400,
      names: 'JSON',
    },
    {
      name: 'a JSON array',
      method: 'post',
      path: () => '/v1/steps',
      body: '[1,2]',
      status: 400,
      names: 'JSON object',
    },
    {
      name: 'an unknown field',
      method: 'post',
      path: () => '/v1/steps',
      body: '{"agent_id":"a","colour":"blue"}',
      status: 400,
      names: 'colour',
    },
    {
      name: 'a wrong type',
      method: 'post',
      path: () => '/v1/steps',
      body: '{"agent_id":42}',
      status: 400,
      names: 'agent_id',
    },
    {
      name: 'tags not an array',
      method: 'post',
      path: () => '/v1/steps',
      body: '{"tags":"a"}',
      status: 400,
      names: 'tags',
    },
    {
      name: 'an out-of-range count',
      method: 'post',
      path: () => '/v1/steps',
      body: '{"prompt_tokens":2147483648}',
      status: 400,
      names: 'prompt_tokens',
    },
    {
      name: 'a negative count',
      method: 'post',
      path: () => '/v1/steps',
      body: '{"context_window_limit":-1}',
      status: 400,
      names: 'context_window_limit',
    },
    {
      name: 'a huge number',
      method: 'post',
      path: () => '/v1/steps',
      body: '{"prompt_tokens":1e400}',
      status: 400,
      names: 'prompt_tokens',
    },
    {
      name: 'an invalid given id',
      method: 'post',
      path: () => '/v1/steps',
      body: '{"id":"step-not-a-uuid"}',
      status: 400,
      names: 'id',
    },
    {
      name: 'a text/plain body',
      method: 'post',
      path: () => '/v1/steps',
      body: 'agent_id=a',
      contentType: 'text/plain',
      status: 415,
      names: 'Content-Type',
    },
    {
      name: 'a form body',
      method: 'post',
      path: () => '/v1/steps',
      body: 'agent_id=a',
      contentType: 'application/x-www-form-urlencoded',
      status: 415,
      names: 'Content-Type',
    },
    {
      name: 'nesting 40 levels deep',
      method: 'post',
      path: () => `/v1/steps/${stepId}/success`,
      body: `{"usage":{"prompt_tokens_details":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}}`,
      status: 400,
      names: 'nests',
    },
    {
      name: 'usage of the wrong type',
      method: 'post',
      path: () => `/v1/steps/${stepId}/success`,
      body: '{"usage":"lots"}',
      status: 400,
      names: 'usage',
    },
    {
      name: 'an unknown usage field',
      method: 'post',
      path: () => `/v1/steps/${stepId}/success`,
      body: '{"usage":{"tokens":1}}',
      status: 400,
      names: 'tokens',
    },
    {
      name: 'an unknown stop_reason',
      method: 'post',
      path: () => `/v1/steps/${stepId}/success`,
      body: '{"stop_reason":"bored"}',
      status: 400,
      names: 'stop_reason',
    },
    {
      name: 'a bad metrics value in success',
      method: 'post',
      path: () => `/v1/steps/${stepId}/success`,
      body: '{"metrics":{"step_ns":-5}}',
      status: 400,
      names: 'step_ns',
    },
    {
      name: 'error without error_type',
      method: 'post',
      path: () => `/v1/steps/${stepId}/error`,
      body: '{"error_message":"x"}',
      status: 400,
      names: 'error_type',
    },
    {
      name: 'error_details not an object',
      method: 'post',
      path: () => `/v1/steps/${stepId}/error`,
      body: '{"error_type":"E","error_message":"x","error_details":"d"}',
      status: 400,
      names: 'error_details',
    },
    {
      name: 'cancel with an unknown field',
      method: 'post',
      path: () => `/v1/steps/${stepId}/cancel`,
      body: '{"reason":"x"}',
      status: 400,
      names: 'reason',
    },
    {
      name: 'an invalid path id',
      method: 'post',
      path: () => '/v1/steps/step-XYZ/success',
      body: '{}',
      status: 400,
      names: 'step_id',
    },
    {
      name: 'feedback of the wrong value',
      method: 'patch',
      path: () => `/v1/steps/${stepId}/feedback`,
      body: '{"feedback":"great"}',
      status: 400,
      names: 'feedback',
    },
    {
      name: 'feedback tags of the wrong type',
      method: 'patch',
      path: () => `/v1/steps/${stepId}/feedback`,
      body: '{"feedback":"positive","tags":[1]}',
      status: 400,
      names: 'tags',
    },
    {
      name: 'a fractional nanosecond count',
      method: 'put',
      path: () => `/v1/steps/${stepId}/metrics`,
      body: '{"llm_request_ns":1.5}',
      status: 400,
      names: 'llm_request_ns',
    },
    {
      name: 'an unknown metrics field',
      method: 'put',
      path: () => `/v1/steps/${stepId}/metrics`,
      body: '{"total_ns":1}',
      status: 400,
      names: 'total_ns',
    },
    {
      name: 'NUL in agent_id',
      method: 'post',
      path: () => '/v1/steps',
      body: '{"agent_id":"a\\u0000b"}',
      status: 400,
      names: 'agent_id must not contain NUL characters',
    },
    {
      name: 'NUL deep in usage',
      method: 'post',
      path: () => `/v1/steps/${stepId}/success`,
      body: '{"usage":{"prompt_tokens_details":{"x":"\\u0000"}}}',
      status: 400,
      names: 'usage.prompt_tokens_details.x must not contain NUL characters',
    },
    {
      name: 'NUL in a field name of error_details',
      method: 'post',
      path: () => `/v1/steps/${stepId}/error`,
      body: '{"error_type":"E","error_message":"m","error_details":{"k\\u0000":1}}',
      status: 400,
      names: 'field name \\"k\\\\u0000\\" in error_details must not contain NUL',
    },
    {
      name: 'NUL in a feedback tag',
      method: 'patch',
      path: () => `/v1/steps/${stepId}/feedback`,
      body: '{"feedback":"positive","tags":["ok","\\u0000"]}',
      status: 400,
      names: 'tags[1] must not contain NUL characters',
    },
    {
      name: "NUL in an endpoint's description",
      method: 'post',
      path: () => '/v1/webhook-endpoints',
      body: '{"url":"https://example.com/h","description":"a\\u0000"}',
      status: 400,
      names: 'description must not contain NUL characters',
    },
    {
      name: "NUL in an endpoint's url",
      method: 'post',
      path: () => '/v1/webhook-endpoints',
      body: '{"url":"https://example.com/\\u0000"}',
      status: 400,
      names: 'url must not contain NUL characters',
    },
    ...['[{"statuses":["failed"],"agent_ids":["only-this"]}]', '"failed"', '1', 'true'].map(
      (filter) => ({
        name: `a filter that is ${filter}`,
        method: 'post' as const,
        path: () => '/v1/webhook-endpoints',
        body: `{"url":"https://example.com/h","filter":${filter}}`,
        status: 400,
        names: 'filter must be an object',
      }),
    ),
    ...['statuses', 'agent_ids', 'project_ids', 'run_ids', 'tags'].map((criterion) => ({
      name: `an empty ${criterion} list`,
      method: 'post' as const,
      path: () => '/v1/webhook-endpoints',
      body: `{"url":"https://example.com/h","filter":{"${criterion}":[]}}`,
      status: 400,
      names: `filter.${criterion} must not be empty: leave the criterion out to hear every value`,
    })),
  ];

  it.each(cases)(
    'answers $status naming the problem for $name, and writes nothing',
    async (testCase) => {
      const before = await snapshot(t);

      const response = await request(t.server)
        [testCase.method](testCase.path())
        .set('content-type', testCase.contentType ?? 'application/json')
        .send(testCase.body);

      expect(response.status).toBe(testCase.status);
      expect(response.body).toMatchObject({
        statusCode: testCase.status,
        error: expect.any(String),
      });
      expect(JSON.stringify(response.body.message)).toContain(testCase.names);
      await expect(snapshot(t)).resolves.toBe(before);
    },
  );

  it.each([
    ['/v1/webhook-deliveries?step_id=a%00b', 'query step_id must not contain NUL characters'],
    ['/v1/steps?agent_id=%00', 'query agent_id must not contain NUL characters'],
    ['/v1/steps?tags=a&tags=b%00', 'query tags[1] must not contain NUL characters'],
    ['/v1/steps?x%00=1', 'query parameter name'],
    ['/v1/runs/run%00/steps', 'path run_id must not contain NUL characters'],
    ['/v1/steps/a%00b/deliveries', 'path step_id must not contain NUL characters'],
    ['/v1/steps/step-%00', 'path step_id must not contain NUL characters'],
    ['/v1/webhook-endpoints/ep_%00', 'path id must not contain NUL characters'],
  ])('answers 400 for NUL in GET %s, naming it', async (path, names) => {
    const response = await request(t.server).get(path).expect(400);
    expect(JSON.stringify(response.body.message)).toContain(names);
  });

  it('still takes a null filter, or null criteria, as every step', async () => {
    const before = (await request(t.server).get('/v1/webhook-endpoints').expect(200)).body as [];
    for (const filter of [null, { statuses: null, tags: null }, {}]) {
      const response = await request(t.server)
        .post('/v1/webhook-endpoints')
        .send({ url: 'https://example.com/h', filter })
        .expect(201);
      expect(response.body.filter ?? {}).toEqual({});
    }
    const after = (await request(t.server).get('/v1/webhook-endpoints').expect(200)).body as [];
    expect(after).toHaveLength(before.length + 3);
  });

  it('answers 413 for a body over 1 MiB and writes nothing', async () => {
    const before = await snapshot(t);
    const body = JSON.stringify({ agent_id: 'a', origin: 'x'.repeat(1024 * 1024) });

    const response = await request(t.server)
      .post('/v1/steps')
      .set('content-type', 'application/json')
      .send(body);

    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({
      statusCode: 413,
      message: expect.stringContaining('1 MiB'),
    });
    await expect(snapshot(t)).resolves.toBe(before);
  });

  it('keeps a terminal call that failed validation from completing the step', async () => {
    const step = await new StepsApi(t.server).create();
    await request(t.server)
      .post(`/v1/steps/${step.id}/success`)
      .send({ usage: { prompt_tokens: -1 } })
      .expect(400);
    await request(t.server)
      .post(`/v1/steps/${step.id}/error`)
      .send({ error_type: 'E' })
      .expect(400);
    const stored = await t.dataSource.getRepository(Step).findOneByOrFail({ id: step.id });
    expect(stored).toMatchObject({ status: 'pending', completedAt: null, promptTokens: 0 });
  });
});
