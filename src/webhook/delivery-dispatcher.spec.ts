import { jest } from '@jest/globals';
import { createTestApp, TestApp } from '../../test/helpers/test-app.js';
import { WebhookReceiver } from '../../test/helpers/webhook-receiver.js';
import { StepsApi } from '../../test/helpers/steps-api.js';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { DeliveryStore } from './delivery-store.js';
import { WebhookDelivery } from './entities/webhook-delivery.entity.js';

describe(DeliveryDispatcher.name, () => {
  let receiver: WebhookReceiver;
  let t: TestApp;

  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
    t = await createTestApp({ STEP_COMPLETE_WEBHOOK: receiver.url() });
  });

  afterEach(async () => {
    await t.close();
    await receiver.close();
  });

  it('never sends a delivery again while its sent attempt waits to be recorded, even once its lease ran out', async () => {
    const store = t.app.get(DeliveryStore);
    const dispatcher = t.app.get(DeliveryDispatcher);
    // The database "does not answer" for the record: the write waits until the test lets it go.
    const record = store.recordAttempt.bind(store);
    let letRecord: () => void = () => undefined;
    const recordingAllowed = new Promise<void>((resolve) => (letRecord = resolve));
    jest.spyOn(store, 'recordAttempt').mockImplementation(async (...args) => {
      await recordingAllowed;
      return record(...args);
    });

    const step = await new StepsApi(t.server).create();
    await new StepsApi(t.server).complete(step.id, 'success').expect(200);
    await receiver.waitForRequests(1);
    // As after a long outage: the lease is over, so the delivery can be claimed anew.
    await t.dataSource
      .getRepository(WebhookDelivery)
      .update({ stepId: step.id }, { leaseUntil: '2000-01-01T00:00:00.000Z' });

    expect(await dispatcher.launchDue(10)).toBe(1); // claimed again...
    letRecord();
    await t.logs.waitFor(
      (entry) => entry.message.includes(step.id) && entry.message.includes(' delivered: '),
      'the attempt to be recorded as delivered',
    );
    // ...but not sent again: a second POST would have come at once; a second passes without one.
    await expect(receiver.waitForRequests(2, 1_000)).rejects.toThrow('timed out');
    expect(receiver.requests).toHaveLength(1);
    const [delivery] = await t.dataSource
      .getRepository(WebhookDelivery)
      .findBy({ stepId: step.id });
    expect(delivery).toMatchObject({ status: 'delivered', attemptCount: 1 });
  });
});
