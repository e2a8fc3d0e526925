import request from 'supertest';
import { WebhookDelivery } from '../src/webhook/entities/webhook-delivery.entity.js';
import { useWebhookTestbed } from './helpers/webhook-testbed.js';

describe('Durable deliveries (e2e)', () => {
  const bed = useWebhookTestbed();
  const start = (env: Record<string, string> = {}) => bed.start(env);

  async function completedStep(): Promise<string> {
    const step = await bed.steps.create();
    await bed.steps.complete(step.id, 'success').expect(200);
    return step.id;
  }

  it('retries 503, 503 then delivers on 200, with one webhook-id and every attempt recorded', async () => {
    bed.receiver.replyInTurn(
      { status: 503, body: 'busy' },
      { status: 503, body: 'busy' },
      // The receiver takes 60 ms over the last answer: its recorded duration must show it.
      { status: 200, body: 'thanks', delayMs: 60 },
    );
    await start({ STEP_COMPLETE_RETRY_SCHEDULE: '100ms,100ms,100ms' });
    const stepId = await completedStep();

    const delivery = await bed.deliveries.settled(stepId, 'delivered');

    expect(bed.receiver.requests).toHaveLength(3);
    const ids = new Set(bed.receiver.requests.map((r) => r.headers['webhook-id']));
    expect(ids).toEqual(new Set([delivery.id]));
    for (const r of bed.receiver.requests) {
      expect(Number(r.headers['webhook-timestamp'])).toBeCloseTo(Date.now() / 1000, -2);
      expect(r.rawBody.toString()).toBe(`{"step_id":"${stepId}"}`);
    }
    expect(delivery).toMatchObject({
      status: 'delivered',
      attempt_count: 3,
      step_id: stepId,
      next_attempt_at: null,
    });
    expect(
      delivery.attempts.map((a) => [a.number, a.outcome, a.status_code, a.response_body]),
    ).toEqual([
      [1, 'http_error', 503, 'busy'],
      [2, 'http_error', 503, 'busy'],
      [3, 'success', 200, 'thanks'],
    ]);
    expect(delivery.attempts[2].duration_ms).toBeGreaterThanOrEqual(60);
    expect(delivery.attempts[0].duration_ms).toBeLessThan(delivery.attempts[2].duration_ms);
    const starts = delivery.attempts.map((attempt) => Date.parse(attempt.started_at));
    // In order, at least the 100 ms retry delay (less its 20 % jitter) apart, as ISO timestamps.
    expect(starts[1] - starts[0]).toBeGreaterThanOrEqual(80);
    expect(starts[2] - starts[1]).toBeGreaterThanOrEqual(80);
    for (const attempt of delivery.attempts) {
      expect(new Date(attempt.started_at).toISOString()).toBe(attempt.started_at);
    }
  });

  it('gives up after 410 Gone at once', async () => {
    bed.receiver.replyWith({ status: 410 });
    await start({ STEP_COMPLETE_RETRY_SCHEDULE: '50ms,50ms,50ms' });
    const stepId = await completedStep();

    const delivery = await bed.deliveries.settled(stepId, 'failed');

    expect(delivery).toMatchObject({ status: 'failed', attempt_count: 1, last_status_code: 410 });
    expect(bed.receiver.requests).toHaveLength(1);
  });

  it('gives up when the schedule runs out: one attempt plus one per scheduled retry', async () => {
    bed.receiver.replyWith({ status: 500 });
    await start({ STEP_COMPLETE_RETRY_SCHEDULE: '50ms,50ms' });
    const stepId = await completedStep();

    const delivery = await bed.deliveries.settled(stepId, 'failed');

    expect(delivery.attempts.map((a) => a.outcome)).toEqual([
      'http_error',
      'http_error',
      'http_error',
    ]);
    expect(bed.receiver.requests).toHaveLength(3);
  });

  it('waits as long as Retry-After asks, within twice the scheduled delay', async () => {
    bed.receiver.replyInTurn({ status: 503, headers: { 'retry-after': '1' } }, { status: 200 });
    await start({ STEP_COMPLETE_RETRY_SCHEDULE: '600ms' });
    const stepId = await completedStep();

    const delivery = await bed.deliveries.settled(stepId, 'delivered');

    const [first, second] = delivery.attempts.map((a) => Date.parse(a.started_at));
    // Retry-After: 1 s lies inside [600 ms, 1200 ms], so it is taken as it is (jitter would give 480–720 ms).
    expect(second - first).toBeGreaterThanOrEqual(1000);
  });

  it('makes one more attempt on POST /retry, and recovers failed deliveries after an outage', async () => {
    bed.receiver.replyWith({ status: 500 });
    await start({ STEP_COMPLETE_RETRY_SCHEDULE: 'none' });
    const first = await completedStep();
    const second = await completedStep();
    const [one] = [
      await bed.deliveries.settled(first, 'failed'),
      await bed.deliveries.settled(second, 'failed'),
    ];

    bed.receiver.replyWith({ status: 204 });
    const retried = await request(bed.app.server)
      .post(`/v1/webhook-deliveries/${one.id}/retry`)
      .expect(202);
    expect(retried.body).toMatchObject({ id: one.id, status: 'failed' });
    const afterRetry = await bed.deliveries.settled(first, 'delivered');
    expect(afterRetry).toMatchObject({ status: 'delivered', attempt_count: 2 });

    const recovered = await request(bed.app.server)
      .post('/v1/webhook-deliveries/recover')
      .send({ since: new Date(Date.now() - 60_000).toISOString() })
      .expect(202);
    expect(recovered.body).toEqual({ requeued: 1 });
    const afterRecover = await bed.deliveries.settled(second, 'delivered');
    expect(afterRecover.attempts.map((a) => a.number)).toEqual([1, 2]);
    expect(
      bed.receiver.requests.filter((r) => r.headers['webhook-id'] === afterRecover.id),
    ).toHaveLength(2);
  });

  it('never has more than STEP_COMPLETE_CONCURRENCY attempts in flight', async () => {
    bed.receiver.replyWith({ hold: true });
    await start({ STEP_COMPLETE_CONCURRENCY: '2' });
    const stepIds: string[] = [];
    for (let i = 0; i < 6; i++) stepIds.push(await completedStep());

    // Each release answers what is held and frees its slots; the next deliveries then arrive.
    for (let received = 2; received <= 6; received += 2) {
      await bed.receiver.waitForRequests(received);
      bed.receiver.release(200);
    }
    for (const stepId of stepIds) await bed.deliveries.settled(stepId, 'delivered');

    expect(bed.receiver.requests).toHaveLength(6);
    expect(bed.receiver.maxHeld).toBe(2);
  });

  it('lists deliveries by status with cursor paging, and finds one by id', async () => {
    bed.receiver.replyWith({ status: 200 });
    await start();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await bed.deliveries.settled(await completedStep(), 'delivered')).id);

    const page1 = await request(bed.app.server)
      .get('/v1/webhook-deliveries?status=delivered&limit=3&order=asc')
      .expect(200);
    const page2 = await request(bed.app.server)
      .get(`/v1/webhook-deliveries?status=delivered&limit=3&order=asc&after=${page1.body[2].id}`)
      .expect(200);
    const page3 = await request(bed.app.server)
      .get(`/v1/webhook-deliveries?status=delivered&limit=3&order=asc&after=${page2.body[1].id}`)
      .expect(200);
    const all = [...page1.body, ...page2.body].map((d: { id: string }) => d.id);
    expect(new Set(all)).toEqual(new Set(ids));
    expect(page3.body).toEqual([]);
    await request(bed.app.server).get('/v1/webhook-deliveries?status=failed').expect(200, []);

    const one = await request(bed.app.server).get(`/v1/webhook-deliveries/${ids[0]}`).expect(200);
    expect(one.body).toMatchObject({
      id: ids[0],
      status: 'delivered',
      attempts: [{ number: 1, outcome: 'success' }],
    });
  });

  it('answers 404, 400 and 409 where it should', async () => {
    await start();
    const unknown = 'msg_00000000000000000000000000000000';
    await request(bed.app.server).get(`/v1/webhook-deliveries/${unknown}`).expect(404);
    await request(bed.app.server).post(`/v1/webhook-deliveries/${unknown}/retry`).expect(404);
    await request(bed.app.server).get('/v1/webhook-deliveries/nope').expect(400);
    await request(bed.app.server).get('/v1/webhook-deliveries?status=lost').expect(400);
    const noSince = await request(bed.app.server)
      .post('/v1/webhook-deliveries/recover')
      .send({})
      .expect(400);
    expect(JSON.stringify(noSince.body.message)).toContain('since');
    await request(bed.app.server)
      .post('/v1/webhook-deliveries/recover')
      .send({ since: 'last week' })
      .expect(400);
  });

  it('records no delivery while no webhook URL is configured', async () => {
    await start({ STEP_COMPLETE_WEBHOOK: '' });
    const step = await bed.steps.create();
    await bed.steps.complete(step.id, 'success').expect(200);

    await expect(bed.app.dataSource.getRepository(WebhookDelivery).count()).resolves.toBe(0);
    const retry = await request(bed.app.server).post(
      '/v1/webhook-deliveries/msg_00000000000000000000000000000000/retry',
    );
    expect(retry.status).toBe(404);
  });
});
