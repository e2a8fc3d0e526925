import request from 'supertest';
import { StepsApi } from './helpers/steps-api.js';
import { createTestApp, TestApp } from './helpers/test-app.js';

/**
 * null in an optional field means the same as leaving the field out, as in Letta (whose optional
 * fields default to None): the default on create, the value kept on update. A required field that
 * is null is a 400 naming it. The OpenAPI document marks exactly these fields nullable.
 */
describe('null in request fields (e2e)', () => {
  let t: TestApp;
  let steps: StepsApi;

  beforeEach(async () => {
    t = await createTestApp();
    steps = new StepsApi(t.server);
  });
  afterEach(() => t.close());

  it('create: null takes the default', async () => {
    const created = await request(t.server)
      .post('/v1/steps')
      .send({
        id: null,
        agent_id: null,
        tags: null,
        prompt_tokens: null,
        completion_tokens: null,
        total_tokens: null,
        cached_input_tokens: null,
        prompt_tokens_details: null,
        context_window_limit: null,
      })
      .expect(201);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^step-/) as unknown,
      agent_id: null,
      tags: [],
      prompt_tokens: 0,
      completion_tokens: 0,
      total_tokens: 0,
      cached_input_tokens: null,
      prompt_tokens_details: null,
      context_window_limit: null,
    });
  });

  it('success: null usage fields and metrics keep what was recorded', async () => {
    const step = await steps.create({ prompt_tokens: 7, total_tokens: 9 });
    const done = await request(t.server)
      .post(`/v1/steps/${step.id}/success`)
      .send({
        usage: { prompt_tokens: null, completion_tokens: 3, total_tokens: null },
        stop_reason: null,
        metrics: { step_ns: null, llm_request_ns: '5' },
      })
      .expect(200);
    expect(done.body).toMatchObject({
      status: 'success',
      prompt_tokens: 7,
      completion_tokens: 3,
      total_tokens: 9,
      stop_reason: null,
    });
    const metrics = await request(t.server).get(`/v1/steps/${step.id}/metrics`).expect(200);
    expect(metrics.body).toMatchObject({ step_ns: null, llm_request_ns: '5' });
    await request(t.server)
      .post(`/v1/steps/${step.id}/success`)
      .send({ usage: null, metrics: null })
      .expect(200);
  });

  it('feedback: null feedback clears it, null tags keep them', async () => {
    const step = await steps.create({ tags: ['keep'] });
    await request(t.server)
      .patch(`/v1/steps/${step.id}/feedback`)
      .send({ feedback: 'positive' })
      .expect(200);
    const cleared = await request(t.server)
      .patch(`/v1/steps/${step.id}/feedback`)
      .send({ feedback: null, tags: null })
      .expect(200);
    expect(cleared.body).toMatchObject({ feedback: null, tags: ['keep'] });
  });

  it('a required field that is null is a 400 naming it', async () => {
    const step = await steps.create();
    const error = await request(t.server)
      .post(`/v1/steps/${step.id}/error`)
      .send({ error_type: null, error_message: 'm' })
      .expect(400);
    expect(JSON.stringify(error.body.message)).toContain('error_type');
    const recover = await request(t.server)
      .post('/v1/webhook-deliveries/recover')
      .send({ since: null })
      .expect(400);
    expect(JSON.stringify(recover.body.message)).toContain('since');
    const feedback = await request(t.server)
      .patch(`/v1/steps/${step.id}/feedback`)
      .send({})
      .expect(400);
    expect(JSON.stringify(feedback.body.message)).toContain('feedback');
  });

  it('a date-time without a time zone is refused (it would be read in the server’s zone)', async () => {
    const refused = await request(t.server)
      .post('/v1/webhook-deliveries/recover')
      .send({ since: '2026-11-28 06:21' })
      .expect(400);
    expect(JSON.stringify(refused.body.message)).toContain('since');
    await request(t.server)
      .post('/v1/webhook-deliveries/recover')
      .send({ since: '2026-11-28T06:21:00' })
      .expect(400);
    await request(t.server)
      .post('/v1/webhook-deliveries/recover')
      .send({ since: '2026-11-28T06:21:00+02:00' })
      .expect(202);
    await request(t.server)
      .post('/v1/webhook-deliveries/recover')
      .send({ since: '2026-11-28' })
      .expect(202);
    await request(t.server).get('/v1/steps?start_date=2026-11-28T06:21').expect(400);
  });
});
