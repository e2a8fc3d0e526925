import { ALL_PROJECTS } from '../../common/project-scope.js';
import { Injectable, Module } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { EntityManager } from 'typeorm';
import { bootModules, BootedModules } from '../../../test/helpers/boot-modules.js';
import { WebhookReceiver } from '../../../test/helpers/webhook-receiver.js';
import { parseDeliveryConfig } from '../../config/delivery.config.js';
import type { StepCompletedEvent } from '../../steps/events/step-completed.event.js';
import { STEP_COMPLETION_OUTBOX } from '../../steps/step-completion-outbox.js';
import type { StepCompletionOutbox } from '../../steps/step-completion-outbox.js';
import { StepsModule } from '../../steps/steps.module.js';
import { StepsService } from '../../steps/steps.service.js';
import { DeliveryDispatcher } from '../dispatch/delivery-dispatcher.js';
import { WebhookDelivery } from '../entities/webhook-delivery.entity.js';
import { WebhookModule } from '../webhook.module.js';
import { DeliveryOutbox } from './delivery-outbox.js';

const CONCURRENCY = 2;

/**
 * StepsModule's completion outbox for one test: the real outbox, then a later write of the
 * transition that counts the deliveries in the transaction and fails.
 */
@Injectable()
class FailingAfterOutbox implements StepCompletionOutbox {
  deliveriesSeenInTransaction: number | null = null;

  constructor(private readonly moduleRef: ModuleRef) {}

  async recordCompletion(event: StepCompletedEvent, manager: EntityManager): Promise<void> {
    await this.moduleRef.get(DeliveryOutbox, { strict: false }).recordCompletion(event, manager);
    this.deliveriesSeenInTransaction = await manager.count(WebhookDelivery);
    throw new Error('a later write of the transition failed');
  }
}
@Module({
  providers: [
    FailingAfterOutbox,
    { provide: STEP_COMPLETION_OUTBOX, useExisting: FailingAfterOutbox },
  ],
  exports: [STEP_COMPLETION_OUTBOX],
})
class FailingAfterOutboxModule {}

/** StepsModule and WebhookModule together, without HTTP: the trip from transition to POST. */
describe(DeliveryOutbox.name, () => {
  let receiver: WebhookReceiver;
  let booted: BootedModules;
  let steps: StepsService;

  /** As the app wires them: StepsModule with WebhookModule's outbox (or the failing one). */
  const boot = async (env: Record<string, string>, failing = false) => {
    const webhook = WebhookModule.register(parseDeliveryConfig(env));
    booted = await bootModules(
      [StepsModule.withCompletionOutbox(failing ? FailingAfterOutboxModule : webhook), webhook],
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
    const step = await steps.create({}, ALL_PROJECTS);
    await steps.markFailed(step.id, { error_type: 'E', error_message: 'm' }, ALL_PROJECTS);

    await receiver.waitForRequests(1);
    const [delivery] = await deliveries();
    expect(receiver.requests[0].rawBody.toString()).toBe(`{"step_id":"${step.id}"}`);
    expect(receiver.requests[0].headers['webhook-id']).toBe(delivery.id);
  });

  it('leaves no delivery and sends nothing when the transition rolls back after writing it', async () => {
    await boot({ STEP_COMPLETE_WEBHOOK: receiver.url() }, true);
    const step = await steps.create({}, ALL_PROJECTS);

    await expect(steps.markSucceeded(step.id, {}, ALL_PROJECTS)).rejects.toThrow('a later write');

    // The outbox had written its delivery inside the transaction; the rollback took it back.
    expect(booted.moduleRef.get(FailingAfterOutbox).deliveriesSeenInTransaction).toBe(1);
    expect(await deliveries()).toEqual([]);
    expect(await steps.findOne(step.id, ALL_PROJECTS)).toMatchObject({ status: 'pending' });
    expect(receiver.requests).toEqual([]);
  });

  it('keeps a delivery that finds every slot busy at the commit, and sends it when one frees', async () => {
    await boot({ STEP_COMPLETE_WEBHOOK: receiver.url() });
    const slots = booted.moduleRef.get(DeliveryDispatcher).slots;
    expect(slots.take(CONCURRENCY)).toBe(CONCURRENCY);
    const step = await steps.create({}, ALL_PROJECTS);
    await steps.markCancelled(step.id, {}, ALL_PROJECTS);

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
    const step = await steps.create({}, ALL_PROJECTS);
    await steps.markSucceeded(step.id, {}, ALL_PROJECTS);

    await booted.logs.waitFor(
      (entry) => entry.message.includes('STEP_COMPLETE_WEBHOOK is empty'),
      'the debug line for a step without a receiver',
    );
    expect(await deliveries()).toEqual([]);
  });
});
