import { Injectable, Module } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { bootModules, BootedModules } from '../../../test/helpers/boot-modules.js';
import { WebhookReceiver } from '../../../test/helpers/webhook-receiver.js';
import { parseDeliveryConfig } from '../../config/delivery.config.js';
import { OnEventInTransaction } from '../../database/transactional-events.js';
import { STEP_COMPLETED } from '../../steps/events/step-completed.event.js';
import { StepsModule } from '../../steps/steps.module.js';
import { StepsService } from '../../steps/steps.service.js';
import { DeliveryDispatcher } from '../dispatch/delivery-dispatcher.js';
import { WebhookDelivery } from '../entities/webhook-delivery.entity.js';
import { WebhookModule } from '../webhook.module.js';
import { DeliveryOutbox } from './delivery-outbox.js';

const CONCURRENCY = 2;

/** Writes in the transition's transaction after the outbox, counting its deliveries, then fails. */
@Injectable()
class FailingAfterOutbox {
  deliveriesSeenInTransaction: number | null = null;

  @OnEventInTransaction(STEP_COMPLETED)
  async fail(_event: unknown, manager: EntityManager): Promise<void> {
    this.deliveriesSeenInTransaction = await manager.count(WebhookDelivery);
    throw new Error('a later write of the transition failed');
  }
}
@Module({ providers: [FailingAfterOutbox] })
class FailingAfterOutboxModule {}

/** StepsModule and WebhookModule together, without HTTP: the trip from transition to POST. */
describe(DeliveryOutbox.name, () => {
  let receiver: WebhookReceiver;
  let booted: BootedModules;
  let steps: StepsService;

  const boot = async (
    env: Record<string, string>,
    extra: (typeof FailingAfterOutboxModule)[] = [],
  ) => {
    booted = await bootModules(
      [StepsModule, WebhookModule.register(parseDeliveryConfig(env)), ...extra],
      { STEP_COMPLETE_CONCURRENCY: String(CONCURRENCY), ...env },
    );
    steps = booted.moduleRef.get(StepsService);
  };
  const deliveries = () => booted.dataSource.getRepository(WebhookDelivery).find();

  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
  });
  afterEach(async () => {
    await booted.close();
    await receiver.close();
  });

  it('writes the delivery with the transition and sends it after the commit', async () => {
    await boot({ STEP_COMPLETE_WEBHOOK: receiver.url() });
    const step = await steps.create({});
    await steps.markFailed(step.id, { error_type: 'E', error_message: 'm' });

    await receiver.waitForRequests(1);
    const [delivery] = await deliveries();
    expect(receiver.requests[0].rawBody.toString()).toBe(`{"step_id":"${step.id}"}`);
    expect(receiver.requests[0].headers['webhook-id']).toBe(delivery.id);
  });

  it('leaves no delivery and sends nothing when the transition rolls back after writing it', async () => {
    await boot({ STEP_COMPLETE_WEBHOOK: receiver.url() }, [FailingAfterOutboxModule]);
    const step = await steps.create({});

    await expect(steps.markSucceeded(step.id, {})).rejects.toThrow('a later write');

    // The outbox had written its delivery inside the transaction; the rollback took it back.
    expect(booted.moduleRef.get(FailingAfterOutbox).deliveriesSeenInTransaction).toBe(1);
    expect(await deliveries()).toEqual([]);
    expect(await steps.findOne(step.id)).toMatchObject({ status: 'pending' });
    expect(receiver.requests).toEqual([]);
  });

  it('keeps a delivery that finds every slot busy at the commit, and sends it when one frees', async () => {
    await boot({ STEP_COMPLETE_WEBHOOK: receiver.url() });
    const slots = booted.moduleRef.get(DeliveryDispatcher).slots;
    expect(slots.take(CONCURRENCY)).toBe(CONCURRENCY);
    const step = await steps.create({});
    await steps.markCancelled(step.id, {});

    const [waiting] = await deliveries();
    expect(waiting).toMatchObject({ status: 'pending', leaseUntil: null, attemptCount: 0 });
    expect(receiver.requests).toEqual([]);

    slots.attemptEnded();
    await receiver.waitForRequests(1);
    expect(receiver.requests[0].headers['webhook-id']).toBe(waiting.id);
    slots.attemptEnded();
  });

  it('writes nothing and says so at debug level while STEP_COMPLETE_WEBHOOK is empty', async () => {
    await boot({});
    const step = await steps.create({});
    await steps.markSucceeded(step.id, {});

    await booted.logs.waitFor(
      (entry) => entry.message.includes('STEP_COMPLETE_WEBHOOK is empty'),
      'the debug line for a step without a receiver',
    );
    expect(await deliveries()).toEqual([]);
  });
});
