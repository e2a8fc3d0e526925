import request from 'supertest';
import { StepMetrics } from '../src/steps/entities/step-metrics.entity.js';
import { Step } from '../src/steps/entities/step.entity.js';
import { StepsApi } from './helpers/steps-api.js';
import { createTestApp, TestApp } from './helpers/test-app.js';

/** Everything the database holds, so a rejected request can be shown to have written nothing. */
async function snapshot(t: TestApp): Promise<string> {
  const steps = await t.dataSource.getRepository(Step).find({ order: { id: 'ASC' } });
  const metrics = await t.dataSource.getRepository(StepMetrics).find({ order: { id: 'ASC' } });
  return JSON.stringify({ steps, metrics });
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
