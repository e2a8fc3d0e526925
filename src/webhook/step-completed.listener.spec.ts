import { EventEmitter2 } from '@nestjs/event-emitter';
import { TransactionRunner } from '../database/transaction-runner.js';
import { STEP_COMPLETED, StepCompletedEvent } from '../steps/events/step-completed.event.js';
import { Step } from '../steps/entities/step.entity.js';
import { createTestApp, TestApp } from '../../test/helpers/test-app.js';
import { WebhookReceiver } from '../../test/helpers/webhook-receiver.js';
import { DeliveryScheduler } from './delivery-scheduler.js';
import { DeliveryStore } from './delivery-store.js';
import { StepCompletedListener } from './step-completed.listener.js';

const STEP_ID = 'step-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

describe(StepCompletedListener.name, () => {
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

  it('makes the first attempt of the pending delivery when step.completed arrives', async () => {
    // A committed terminal step with its outbox row, written the way StepsService would.
    const now = new Date();
    const delivery = await t.app.get(TransactionRunner).run(async (manager) => {
      await manager.insert(Step, {
        ...t.dataSource.getRepository(Step).create({ id: STEP_ID, status: 'failed', tags: [] }),
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
        completedAt: now.toISOString(),
      });
      return t.app
        .get(DeliveryStore)
        .createPending(manager, STEP_ID, `{"step_id":"${STEP_ID}"}`, now);
    });
    const event = new StepCompletedEvent(STEP_ID, 'failed', null, null, 'error', now.toISOString());
    // Only the listener may send it: the scheduler, which would also find it due, is stopped.
    t.app.get(DeliveryScheduler).beforeApplicationShutdown();

    await t.app.get(EventEmitter2).emitAsync(STEP_COMPLETED, event);

    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0].rawBody.toString()).toBe(`{"step_id":"${STEP_ID}"}`);
    expect(receiver.requests[0].headers['webhook-id']).toBe(delivery.id);
  });
});
