import request from 'supertest';
import { Step } from '../src/steps/entities/step.entity.js';
import { StepsApi } from './helpers/steps-api.js';
import { createTestApp, TestApp } from './helpers/test-app.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';

describe('Step-completion webhook (e2e)', () => {
  let receiver: WebhookReceiver;
  let t: TestApp;
  let api: StepsApi;

  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
  });

  afterEach(async () => {
    // The receiver goes first: it cuts hung connections, so shutdown has nothing left to wait for.
    await receiver.close();
    await t.close();
  });

  async function start(env: Record<string, string> = {}) {
    t = await createTestApp({ STEP_COMPLETE_WEBHOOK: receiver.url(), ...env });
    api = new StepsApi(t.server);
  }

  it('delivers {"step_id"} for each terminal status', async () => {
    await start();
    const steps = await Promise.all([api.create(), api.create(), api.create()]);
    await api.complete(steps[0].id, 'success').expect(200);
    await api.complete(steps[1].id, 'failed').expect(200);
    await api.complete(steps[2].id, 'cancelled').expect(200);

    await receiver.waitForRequests(3);

    const bodies = receiver.requests.map((r) => JSON.parse(r.rawBody.toString()) as unknown);
    expect(bodies).toEqual(expect.arrayContaining(steps.map((step) => ({ step_id: step.id }))));
  });

  it('sends one POST for 50 concurrent mixed terminal calls on one step', async () => {
    await start();
    const step = await api.create();
    const fence = await api.create();
    const statuses = Array.from(
      { length: 50 },
      (_, i) => (['success', 'failed', 'cancelled'] as const)[i % 3],
    );

    const responses = await Promise.all(statuses.map((status) => api.complete(step.id, status)));
    // A later step's webhook arriving means every event emitted before it has been handled.
    await api.complete(fence.id, 'success').expect(200);
    await t.logs.waitFor(
      (entry) => entry.message.includes(fence.id) && entry.message.includes('delivered'),
    );
    await receiver.waitForRequests(2);

    const forStep = receiver.requests.filter(
      (r) => r.rawBody.toString() === `{"step_id":"${step.id}"}`,
    );
    expect(forStep).toHaveLength(1);
    const winners = responses.filter((response) => response.status === 200);
    expect(new Set(winners.map((response) => response.body.status)).size).toBe(1);
    expect(responses.filter((response) => response.status === 409)).toHaveLength(
      50 - winners.length,
    );
  });

  it('answers the terminal call while a hung receiver still holds the webhook', async () => {
    receiver.replyWith({ hang: true });
    await start({ STEP_COMPLETE_TIMEOUT_MS: '120000' });
    const step = await api.create();

    // With a two-minute webhook deadline, this call could not return inside the test's time if it
    // waited for the receiver.
    await api.complete(step.id, 'success').expect(200);
    await receiver.waitForRequests(1);

    expect(receiver.requests[0].rawBody.toString()).toBe(`{"step_id":"${step.id}"}`);
    const webhookLines = t.logs.entries.filter(
      (entry) => entry.context === 'DeliveryDispatcher' && entry.message.includes(step.id),
    );
    expect(webhookLines).toEqual([]);
  });

  it('leaves the step successful when the receiver answers 500', async () => {
    receiver.replyWith({ status: 500, body: 'receiver broke' });
    await start();
    const step = await api.create();

    await api.complete(step.id, 'success').expect(200);
    const warning = await t.logs.waitFor(
      (entry) => entry.context === 'DeliveryDispatcher' && entry.message.includes(step.id),
    );

    expect(warning.level).toBe('warn');
    expect(warning.message).toContain('HTTP 500');
    await request(t.server).get(`/v1/steps/${step.id}`).expect(200);
    const stored = await t.dataSource.getRepository(Step).findOneByOrFail({ id: step.id });
    expect(stored.status).toBe('success');
  });
});
