import { jest } from '@jest/globals';
import type { DeliveryDispatcher } from './delivery-dispatcher.js';
import type { DeliveryScheduler } from './delivery-scheduler.js';
import { InProcessTrigger } from './in-process-trigger.js';
import type { PgDeliveryNotifier } from './pg-delivery-notifier.js';

/**
 * When a process without a queue tells the others (NOTIFY, on PostgreSQL) about what it committed:
 * only what it does not take itself. Its collaborators are reduced to what it asks of them.
 */
describe(InProcessTrigger.name, () => {
  let launchForStep: jest.Mock<(stepId: string) => Promise<boolean>>;
  let announce: jest.Mock<() => void>;
  let wake: jest.Mock<() => void>;
  const trigger = (delivers: boolean) =>
    new InProcessTrigger(
      delivers,
      { launchForStep } as unknown as DeliveryDispatcher,
      { wake, running: true } as unknown as DeliveryScheduler,
      { announce } as unknown as PgDeliveryNotifier,
    );

  beforeEach(() => {
    launchForStep = jest.fn(() => Promise.resolve(false));
    announce = jest.fn();
    wake = jest.fn();
  });

  it('in a process that does not deliver: announces the step to the others, attempts nothing', async () => {
    await trigger(false).stepCommitted('step-1');
    expect({
      launched: launchForStep.mock.calls.length,
      announced: announce.mock.calls.length,
    }).toEqual({
      launched: 0,
      announced: 1,
    });
  });

  it('in a process that delivers and took every delivery itself: announces nothing', async () => {
    await trigger(true).stepCommitted('step-1');
    expect(launchForStep).toHaveBeenCalledWith('step-1');
    expect(announce).not.toHaveBeenCalled();
  });

  it('in a process that delivers but had no room for some: announces them', async () => {
    launchForStep.mockResolvedValue(true);
    await trigger(true).stepCommitted('step-1');
    expect(announce).toHaveBeenCalledTimes(1);
  });

  it('when its own claim fails: announces (another process may claim) and lets the error through', async () => {
    launchForStep.mockRejectedValue(new Error('the database does not answer'));
    await expect(trigger(true).stepCommitted('step-1')).rejects.toThrow('does not answer');
    expect(announce).toHaveBeenCalledTimes(1);
  });

  it('deliveries made due again: wakes its own scheduler and announces them', async () => {
    await trigger(true).requeued();
    expect({ woken: wake.mock.calls.length, announced: announce.mock.calls.length }).toEqual({
      woken: 1,
      announced: 1,
    });
  });

  it('without a notifier (SQLite is never given one that sends): the same, silently', async () => {
    const alone = new InProcessTrigger(
      false,
      { launchForStep } as unknown as DeliveryDispatcher,
      { wake, running: true } as unknown as DeliveryScheduler,
    );
    await expect(alone.stepCommitted('step-1')).resolves.toBeUndefined();
    expect(launchForStep).not.toHaveBeenCalled();
  });
});
