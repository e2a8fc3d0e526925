import { ALL_PROJECTS } from '../../common/project-scope.js';
import { jest } from '@jest/globals';
import { bootModules, BootedModules } from '../../../test/helpers/boot-modules.js';
import { DEFAULT_WAIT_MS, withDeadline } from '../../../test/helpers/deadline.js';
import { WebhookReceiver } from '../../../test/helpers/webhook-receiver.js';
import { parseDeliveryConfig } from '../../config/delivery.config.js';
import { TransactionRunner } from '../../database/transaction-runner.js';
import { StepsModule } from '../../steps/steps.module.js';
import { StepsService } from '../../steps/steps.service.js';
import { DeliveryEngineModule } from '../delivery-engine.module.js';
import { DeliveryStore } from '../delivery-store.js';
import { WebhookDelivery } from '../entities/webhook-delivery.entity.js';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { DeliveryScheduler } from './delivery-scheduler.js';

const CONCURRENCY = 2;

/** The delivery engine alone (no outbox, no HTTP API) on a real database and a real receiver. */
describe(DeliveryDispatcher.name, () => {
  let receiver: WebhookReceiver;
  let booted: BootedModules;
  let store: DeliveryStore;
  let sut: DeliveryDispatcher;

  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
    booted = await bootModules(
      [StepsModule, DeliveryEngineModule.register(parseDeliveryConfig({}), true)],
      {
        STEP_COMPLETE_WEBHOOK: receiver.url(),
        STEP_COMPLETE_CONCURRENCY: String(CONCURRENCY),
      },
    );
    store = booted.moduleRef.get(DeliveryStore);
    sut = booted.moduleRef.get(DeliveryDispatcher);
    // The scheduler would take due deliveries itself; here the test decides when claims happen.
    booted.moduleRef.get(DeliveryScheduler).beforeApplicationShutdown();
  });
  afterEach(async () => {
    await booted.close();
    await receiver.close();
  });

  /** Pending deliveries for new steps, written as the outbox writes them; their step ids. */
  async function writeDeliveries(count: number): Promise<string[]> {
    const steps = booted.moduleRef.get(StepsService);
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const step = await steps.create({}, ALL_PROJECTS);
      await booted.moduleRef
        .get(TransactionRunner)
        .run((manager) =>
          store.create(
            manager,
            step,
            [{ endpointId: 'env', payload: `{"step_id":"${step.id}"}`, held: false }],
            new Date(),
          ),
        );
      ids.push(step.id);
    }
    return ids;
  }
  const deliveries = () => booted.dataSource.getRepository(WebhookDelivery).find();

  it('never has more attempts in flight than its slots, and gets every slot back', async () => {
    let ended = 0;
    const bothEnded = new Promise<void>((resolve) =>
      sut.slots.onFreed(() => ++ended === CONCURRENCY && resolve()),
    );
    receiver.replyWith({ hold: true });
    await writeDeliveries(5);

    expect((await sut.launchDue(5)).launched).toBe(CONCURRENCY);
    expect((await sut.launchDue(5)).launched).toBe(0);
    await receiver.waitForRequests(CONCURRENCY);
    expect(sut.slots.inUse).toBe(CONCURRENCY);

    receiver.replyWith({ status: 200 });
    receiver.release();
    await withDeadline(bothEnded, 'both held attempts to end', DEFAULT_WAIT_MS);
    expect(sut.slots.inUse).toBe(0);
    expect(receiver.maxHeld).toBe(CONCURRENCY);
    expect((await deliveries()).filter((d) => d.status === 'delivered')).toHaveLength(CONCURRENCY);
  });

  it("claims a step's delivery after its commit only while a slot is free", async () => {
    const [first, second] = await writeDeliveries(2);
    expect(sut.slots.take(CONCURRENCY)).toBe(CONCURRENCY);

    await sut.launchForStep(first);
    expect((await deliveries()).every((d) => d.leaseUntil === null)).toBe(true);

    sut.slots.returnUnfilled(CONCURRENCY);
    await sut.launchForStep(second);
    await receiver.waitForRequests(1);
    expect(receiver.requests[0].rawBody.toString()).toBe(`{"step_id":"${second}"}`);
  });

  it('never sends a delivery again while its sent attempt waits to be recorded, even once its lease ran out', async () => {
    // The database "does not answer" for the record: the write waits until the test lets it go.
    const record = store.recordAttempt.bind(store);
    let letRecord: () => void = () => undefined;
    const recordingAllowed = new Promise<void>((resolve) => (letRecord = resolve));
    jest.spyOn(store, 'recordAttempt').mockImplementation(async (...args) => {
      await recordingAllowed;
      return record(...args);
    });

    const [stepId] = await writeDeliveries(1);
    const firstAttempt = sut.launchForStep(stepId);
    await receiver.waitForRequests(1);
    // As after a long outage: the lease is over, so the delivery can be claimed anew.
    await booted.dataSource
      .getRepository(WebhookDelivery)
      .update({ stepId }, { leaseUntil: '2000-01-01T00:00:00.000Z' });

    expect((await sut.launchDue(10)).launched).toBe(1); // claimed again...
    letRecord();
    await firstAttempt;
    await booted.logs.waitFor(
      (entry) => entry.message.includes(stepId) && entry.message.includes(' delivered: '),
      'the attempt to be recorded as delivered',
    );
    // ...but not sent again: a second POST would have come at once; a second passes without one.
    await expect(receiver.waitForRequests(2, 1_000)).rejects.toThrow('timed out');
    expect(receiver.requests).toHaveLength(1);
    expect(await deliveries()).toEqual([
      expect.objectContaining({ status: 'delivered', attemptCount: 1 }),
    ]);
    expect(sut.slots.inUse).toBe(0);
  });

  it('keeps a sent attempt whose record fails for any reason, writes it again, and never sends it twice', async () => {
    // Not an outage: the database answers, and refuses the write (as a deadlock or a constraint
    // would) until the test drops the trigger.
    await booted.dataSource.query(
      `CREATE TRIGGER refuse_record BEFORE UPDATE OF attempt_count ON webhook_deliveries
       BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`,
    );
    const [stepId] = await writeDeliveries(1);
    const firstAttempt = sut.launchForStep(stepId);
    await receiver.waitForRequests(1);
    await booted.logs.waitFor(
      (entry) => entry.message.includes('were sent but cannot be recorded yet: the write failed'),
      'the warning that the sent attempt waits to be recorded',
    );
    await booted.dataSource
      .getRepository(WebhookDelivery)
      .update({ stepId }, { leaseUntil: '2000-01-01T00:00:00.000Z' });
    await booted.dataSource.query('DROP TRIGGER refuse_record');
    expect((await sut.launchDue(10)).launched).toBeLessThanOrEqual(1); // claimed again, perhaps...
    await firstAttempt;
    await booted.logs.waitFor(
      (entry) => entry.message.includes(stepId) && entry.message.includes(' delivered: '),
      'the attempt to be recorded as delivered',
    );
    // ...but never sent again.
    await expect(receiver.waitForRequests(2, 1_000)).rejects.toThrow('timed out');
    expect(await deliveries()).toEqual([
      expect.objectContaining({ status: 'delivered', attemptCount: 1 }),
    ]);
    expect(booted.logs.text()).not.toContain('could not be recorded');
  });
});
