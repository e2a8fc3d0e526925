import { EventEmitter2 } from '@nestjs/event-emitter';
import { TransactionalListeners } from '../database/transactional-listeners.js';
import { TransactionRunner } from '../database/transaction-runner.js';
import { Step } from '../steps/entities/step.entity.js';
import { STEP_COMPLETED, StepCompletedEvent } from '../steps/events/step-completed.event.js';
import { createTestApp, TestApp } from '../../test/helpers/test-app.js';
import { WebhookReceiver } from '../../test/helpers/webhook-receiver.js';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { DeliveryScheduler } from './delivery-scheduler.js';
import { WebhookDelivery } from './entities/webhook-delivery.entity.js';
import { StepCompletedListener } from './step-completed.listener.js';

const STEP_ID = 'step-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const CONCURRENCY = 2;

describe(StepCompletedListener.name, () => {
  let receiver: WebhookReceiver;
  let t: TestApp;

  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
    t = await createTestApp({
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_CONCURRENCY: String(CONCURRENCY),
    });
  });

  afterEach(async () => {
    await t.close();
    await receiver.close();
  });

  it('claims and sends a delivery written without a lease when step.completed arrives', async () => {
    const dispatcher = t.app.get(DeliveryDispatcher);
    // Every slot busy while the step commits, so its delivery is written unleased...
    for (let i = 0; i < CONCURRENCY; i++) dispatcher.reserveSlot();
    const now = new Date().toISOString();
    const event = new StepCompletedEvent(STEP_ID, 'failed', null, null, 'error', now);
    await t.app.get(TransactionRunner).run(async (manager) => {
      await manager.insert(Step, {
        ...t.dataSource.getRepository(Step).create({ id: STEP_ID, status: 'failed', tags: [] }),
        createdAt: now,
        updatedAt: now,
        completedAt: now,
      });
      await t.app.get(TransactionalListeners).publish(STEP_COMPLETED, event, manager);
    });
    const [delivery] = await t.dataSource.getRepository(WebhookDelivery).find();
    expect(delivery.leaseUntil).toBeNull();
    // ...then free again, and only the listener may send it: the scheduler is stopped.
    for (let i = 0; i < CONCURRENCY; i++) dispatcher.releaseSlot();
    t.app.get(DeliveryScheduler).beforeApplicationShutdown();

    await t.app.get(EventEmitter2).emitAsync(STEP_COMPLETED, event);

    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0].rawBody.toString()).toBe(`{"step_id":"${STEP_ID}"}`);
    expect(receiver.requests[0].headers['webhook-id']).toBe(delivery.id);
  });
});
