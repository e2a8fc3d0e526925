import { TransactionalListeners } from '../database/transactional-listeners.js';
import { TransactionRunner } from '../database/transaction-runner.js';
import { Step } from '../steps/entities/step.entity.js';
import { STEP_COMPLETED, StepCompletedEvent } from '../steps/events/step-completed.event.js';
import { createTestApp, TestApp } from '../../test/helpers/test-app.js';
import { WebhookReceiver } from '../../test/helpers/webhook-receiver.js';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { DeliveryOutbox } from './delivery-outbox.js';
import { WebhookDelivery } from './entities/webhook-delivery.entity.js';
import { StepCompletedListener } from './step-completed.listener.js';

const STEP_ID = 'step-1a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const CONCURRENCY = 2;

describe(DeliveryOutbox.name, () => {
  let receiver: WebhookReceiver;
  let t: TestApp;
  let dispatcher: DeliveryDispatcher;

  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
    t = await createTestApp({
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_CONCURRENCY: String(CONCURRENCY),
    });
    dispatcher = t.app.get(DeliveryDispatcher);
  });

  afterEach(async () => {
    await t.close();
    await receiver.close();
  });

  const event = new StepCompletedEvent(STEP_ID, 'success', null, null, 'end_turn', '');
  /** What StepsService does inside its transaction, then `afterWrite` in the same transaction. */
  const publishInTransaction = (afterWrite: () => void = () => undefined) =>
    t.app.get(TransactionRunner).run(async (manager) => {
      const now = new Date().toISOString();
      await manager.insert(Step, {
        ...t.dataSource.getRepository(Step).create({ id: STEP_ID, status: 'success', tags: [] }),
        createdAt: now,
        updatedAt: now,
        completedAt: now,
      });
      await t.app.get(TransactionalListeners).publish(STEP_COMPLETED, event, manager);
      afterWrite();
    });
  const deliveries = () => t.dataSource.getRepository(WebhookDelivery).find();

  it('writes the delivery already leased when a slot is free, holding that slot until the commit is announced', async () => {
    await publishInTransaction();

    const [delivery] = await deliveries();
    expect(delivery.leaseUntil).not.toBeNull();
    expect(dispatcher.freeSlots).toBe(CONCURRENCY - 1);

    await t.app.get(StepCompletedListener).onStepCompleted(event);
    expect(receiver.requests.map((request) => request.headers['webhook-id'])).toEqual([
      delivery.id,
    ]);
    expect(dispatcher.freeSlots).toBe(CONCURRENCY);
    const [after] = await deliveries();
    expect(after).toMatchObject({ status: 'delivered', attemptCount: 1, leaseUntil: null });
  });

  it('frees the slot and writes nothing when the step transaction rolls back', async () => {
    await expect(
      publishInTransaction(() => {
        throw new Error('a later write in the same transaction failed');
      }),
    ).rejects.toThrow('a later write');

    expect(await deliveries()).toEqual([]);
    expect(dispatcher.freeSlots).toBe(CONCURRENCY);
    await t.app.get(StepCompletedListener).onStepCompleted(event);
    expect(receiver.requests).toHaveLength(0);
  });

  it('leaves the delivery unleased for the scheduler when every slot is busy', async () => {
    for (let i = 0; i < CONCURRENCY; i++) dispatcher.reserveSlot();

    await publishInTransaction();

    const [delivery] = await deliveries();
    expect(delivery.leaseUntil).toBeNull();
    for (let i = 0; i < CONCURRENCY; i++) dispatcher.releaseSlot();
  });
});
