import { jest } from '@jest/globals';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { RecordingLogger } from '../../../test/helpers/recording-logger.js';
import type { DeliveryStore } from '../delivery-store.js';
import type { DeliveryDispatcher, LaunchedDue } from './delivery-dispatcher.js';
import { DeliveryScheduler, MAX_POLL_INTERVAL_MS } from './delivery-scheduler.js';
import type { PgDeliveryNotifier } from './pg-delivery-notifier.js';
import { Slots } from './slots.js';

/**
 * The scheduler's timing on fake timers: when it looks for due work, and when it does not. Its
 * two collaborators are reduced to what it asks of them: the dispatcher's slots and claims, the
 * store's "when is the next one due".
 */
describe(DeliveryScheduler.name, () => {
  let slots: Slots;
  let launchDue: jest.Mock<(limit: number) => Promise<LaunchedDue>>;
  let nextDueAfter: jest.Mock<() => Promise<Date | null>>;
  let roomFreed: () => void;
  let sut: DeliveryScheduler;
  let logs: RecordingLogger;

  beforeEach(() => {
    logs = new RecordingLogger();
    Logger.overrideLogger(logs);
    jest.useFakeTimers({ now: 0 });
    slots = new Slots(4);
    launchDue = jest.fn(() => Promise.resolve({ launched: 0, moreAt: null, full: false }));
    nextDueAfter = jest.fn(() => Promise.resolve(null));
    const onRoomFreed = (listener: () => void) => (roomFreed = listener);
    const dispatcher = { slots, launchDue, onRoomFreed } as unknown as DeliveryDispatcher;
    const store = {
      nextDueAfter,
      releaseLeftLeases: () => Promise.resolve(0),
    } as unknown as DeliveryStore;
    sut = new DeliveryScheduler(true, store, dispatcher);
  });
  afterEach(() => {
    sut.beforeApplicationShutdown();
    jest.useRealTimers();
    Logger.overrideLogger(new ConsoleLogger());
  });

  it('looks at start, then at least every MAX_POLL_INTERVAL_MS while nothing is due', async () => {
    await sut.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(0);
    expect(launchDue).toHaveBeenCalledTimes(1);
    expect(launchDue).toHaveBeenLastCalledWith(4);

    await jest.advanceTimersByTimeAsync(MAX_POLL_INTERVAL_MS - 1);
    expect(launchDue).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(launchDue).toHaveBeenCalledTimes(2);
  });

  it('sleeps exactly until the next retry falls due', async () => {
    nextDueAfter.mockResolvedValue(new Date(300));
    await sut.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(299);
    expect(launchDue).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(launchDue).toHaveBeenCalledTimes(2);
  });

  it('sleeps until a rate limit or a breaker allows more, when that comes before the next retry', async () => {
    nextDueAfter.mockResolvedValue(new Date(900));
    launchDue.mockResolvedValueOnce({ launched: 1, moreAt: 120, full: false });
    await sut.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(119);
    expect(launchDue).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(launchDue).toHaveBeenCalledTimes(2);
    // Nothing held back this time: the next retry decides.
    await jest.advanceTimersByTimeAsync(900 - 120 - 1);
    expect(launchDue).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(launchDue).toHaveBeenCalledTimes(3);
  });

  it('asks for no more than the free slots, and waits for a slot to free when all are full', async () => {
    launchDue.mockImplementation((limit) =>
      Promise.resolve({ launched: slots.take(limit), moreAt: null, full: true }),
    );
    await sut.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(0);
    expect(launchDue).toHaveBeenCalledTimes(1);
    expect(slots.free).toBe(0);

    // Full: no polling at all, however long nothing frees.
    await jest.advanceTimersByTimeAsync(10 * MAX_POLL_INTERVAL_MS);
    expect(launchDue).toHaveBeenCalledTimes(1);

    slots.attemptEnded();
    roomFreed();
    await jest.advanceTimersByTimeAsync(2);
    expect(launchDue).toHaveBeenCalledTimes(2);
    expect(launchDue).toHaveBeenLastCalledWith(1);
  });

  it('tries again a poll interval after the database fails, and stops for good at shutdown', async () => {
    launchDue.mockRejectedValueOnce(new Error('SQLITE_BUSY: database is locked'));
    await sut.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(0);
    expect(sut.running).toBe(true);
    await jest.advanceTimersByTimeAsync(MAX_POLL_INTERVAL_MS);
    expect(launchDue).toHaveBeenCalledTimes(2);
    expect(logs.text()).toContain('Looking for due webhook deliveries failed');

    sut.beforeApplicationShutdown();
    expect(sut.running).toBe(false);
    sut.wake();
    await jest.advanceTimersByTimeAsync(10 * MAX_POLL_INTERVAL_MS);
    expect(launchDue).toHaveBeenCalledTimes(2);
  });

  it('gathers attempts that end together into one look, and never loses one that ends during a look', async () => {
    nextDueAfter.mockResolvedValue(new Date(60_000));
    await sut.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(0);
    expect(launchDue).toHaveBeenCalledTimes(1);
    for (let i = 0; i < 5; i++) roomFreed();
    await jest.advanceTimersByTimeAsync(1);
    expect(launchDue).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(launchDue).toHaveBeenCalledTimes(2);

    // An attempt ends while a look is under way: the look's own sleep does not swallow it.
    let finishLook: (value: LaunchedDue) => void = () => undefined;
    launchDue.mockImplementationOnce(
      () => new Promise<LaunchedDue>((resolve) => (finishLook = resolve)),
    );
    roomFreed();
    await jest.advanceTimersByTimeAsync(2);
    expect(launchDue).toHaveBeenCalledTimes(3);
    roomFreed();
    finishLook({ launched: 0, moreAt: null, full: false });
    await jest.advanceTimersByTimeAsync(2);
    expect(launchDue).toHaveBeenCalledTimes(4);
  });
  it('looks at once when another process announces deliveries (LISTEN/NOTIFY), not at its next poll', async () => {
    let announced: () => void = () => undefined;
    const notifier = {
      onAnnounced: (listener: () => void) => (announced = listener),
    } as unknown as PgDeliveryNotifier;
    const dispatcher = {
      slots,
      launchDue,
      onRoomFreed: () => undefined,
    } as unknown as DeliveryDispatcher;
    const store = {
      nextDueAfter,
      releaseLeftLeases: () => Promise.resolve(0),
    } as unknown as DeliveryStore;
    sut = new DeliveryScheduler(true, store, dispatcher, notifier);
    await sut.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(100);
    expect(launchDue).toHaveBeenCalledTimes(1); // the look at start

    announced();
    await jest.advanceTimersByTimeAsync(0);
    expect(launchDue).toHaveBeenCalledTimes(2);
  });
});
