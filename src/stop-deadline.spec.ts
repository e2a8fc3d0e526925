import { DRAIN_WITHIN_MS, StopDeadline } from './stop-deadline.js';

describe(StopDeadline.name, () => {
  let sut: StopDeadline;
  beforeEach(() => {
    sut = new StopDeadline();
  });

  it('counts the drain from the signal, and a later signal does not move it', () => {
    sut.signalled(performance.now() - DRAIN_WITHIN_MS + 1_000);
    sut.signalled(performance.now());
    expect(sut.drainMsLeft()).toBeLessThanOrEqual(1_000);
    expect(sut.drainMsLeft()).toBeGreaterThan(0);
  });

  it('without a signal, counts the drain from the first time it is asked', () => {
    expect(sut.drainMsLeft()).toBeGreaterThan(DRAIN_WITHIN_MS - 100);
    expect(sut.drainMsLeft()).toBeLessThanOrEqual(DRAIN_WITHIN_MS);
  });

  it('reports work that settles in time, failed or not, as finished', async () => {
    sut.signalled(performance.now());
    await expect(sut.drainWithin(Promise.resolve())).resolves.toBe(true);
    await expect(sut.drainWithin(Promise.reject(new Error('failed')))).resolves.toBe(true);
  });

  it('stops waiting for work that never ends once the deadline has passed', async () => {
    sut.signalled(performance.now() - DRAIN_WITHIN_MS);
    expect(sut.drainMsLeft()).toBe(0);
    await expect(sut.drainWithin(new Promise(() => undefined))).resolves.toBe(false);
  });
});
