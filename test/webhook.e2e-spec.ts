import request from 'supertest';
import { Step } from '../src/steps/entities/step.entity.js';
import type { StepsApi } from './helpers/steps-api.js';
import { useWebhookTestbed } from './helpers/webhook-testbed.js';

describe('Step-completion webhook (e2e)', () => {
  const bed = useWebhookTestbed();
  let api: StepsApi;

  async function start(env: Record<string, string> = {}) {
    await bed.start(env);
    api = bed.steps;
  }

  it('delivers {"step_id"} for each terminal status', async () => {
    await start();
    const steps = await Promise.all([api.create(), api.create(), api.create()]);
    await api.complete(steps[0].id, 'success').expect(200);
    await api.complete(steps[1].id, 'failed').expect(200);
    await api.complete(steps[2].id, 'cancelled').expect(200);

    await bed.receiver.waitForRequests(3);

    const bodies = bed.receiver.requests.map((r) => JSON.parse(r.rawBody.toString()) as unknown);
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
    await bed.app.logs.waitFor(
      (entry) => entry.message.includes(fence.id) && entry.message.includes('delivered'),
    );
    await bed.receiver.waitForRequests(2);

    const forStep = bed.receiver.requests.filter(
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
    bed.receiver.replyWith({ hang: true });
    await start({ STEP_COMPLETE_TIMEOUT_MS: '120000' });
    const step = await api.create();

    // With a two-minute webhook deadline, this call could not return inside the test's time if it
    // waited for the bed.receiver.
    await api.complete(step.id, 'success').expect(200);
    await bed.receiver.waitForRequests(1);

    expect(bed.receiver.requests[0].rawBody.toString()).toBe(`{"step_id":"${step.id}"}`);
    const webhookLines = bed.app.logs.entries.filter(
      (entry) => entry.context === 'DeliveryDispatcher' && entry.message.includes(step.id),
    );
    expect(webhookLines).toEqual([]);
  });

  it('leaves the step successful when the receiver answers 500', async () => {
    bed.receiver.replyWith({ status: 500, body: 'receiver broke' });
    await start();
    const step = await api.create();

    await api.complete(step.id, 'success').expect(200);
    const warning = await bed.app.logs.waitFor(
      (entry) => entry.context === 'DeliveryDispatcher' && entry.message.includes(step.id),
    );

    expect(warning.level).toBe('warn');
    expect(warning.message).toContain('HTTP 500');
    await request(bed.app.server).get(`/v1/steps/${step.id}`).expect(200);
    const stored = await bed.app.dataSource.getRepository(Step).findOneByOrFail({ id: step.id });
    expect(stored.status).toBe('success');
  });
});
