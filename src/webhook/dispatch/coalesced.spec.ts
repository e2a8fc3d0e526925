import { Backoff, Coalesced } from './coalesced.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A run that waits until the test lets it end. */
function heldRuns() {
  const ends: (() => void)[] = [];
  let started = 0;
  return {
    run: () =>
      new Promise<void>((resolve) => {
        started++;
        ends.push(resolve);
      }),
    get started() {
      return started;
    },
    endOne: () => ends.shift()?.(),
  };
}

describe('Coalesced', () => {
  it('runs once for every request made in one turn of the event loop', async () => {
    let runs = 0;
    const coalesced = new Coalesced(() => {
      runs++;
    });
    for (let i = 0; i < 50; i++) coalesced.request();
    expect(runs).toBe(0); // not within the caller's turn
    await nextTurn();
    await nextTurn();
    expect(runs).toBe(1);
    expect(coalesced.runs).toBe(1);
  });

  it('keeps one run in flight; requests made meanwhile add exactly one run after it', async () => {
    const held = heldRuns();
    const coalesced = new Coalesced(held.run);
    coalesced.request();
    await nextTurn();
    expect(held.started).toBe(1);
    for (let i = 0; i < 20; i++) coalesced.request();
    await nextTurn();
    expect(held.started).toBe(1); // still the first
    held.endOne();
    await nextTurn();
    expect(held.started).toBe(2); // the twenty requests: one run
    held.endOne();
    await nextTurn();
    await nextTurn();
    expect(held.started).toBe(2);
  });

  it('a run that throws does not stop later requests from running', async () => {
    let runs = 0;
    const coalesced = new Coalesced(() => {
      runs++;
      throw new Error('the connection is gone');
    });
    coalesced.request();
    await nextTurn();
    coalesced.request();
    await nextTurn();
    await nextTurn();
    expect(runs).toBe(2);
  });

  it('runs nothing after close, neither what was requested before nor after', async () => {
    let runs = 0;
    const coalesced = new Coalesced(() => {
      runs++;
    });
    coalesced.request();
    coalesced.close();
    coalesced.request();
    await nextTurn();
    await nextTurn();
    expect(runs).toBe(0);
  });
});

describe('Backoff', () => {
  it('doubles from the first delay up to the longest, then stays there', () => {
    const backoff = new Backoff(100, 1_000, 0);
    expect(Array.from({ length: 7 }, () => backoff.next())).toEqual([
      100, 200, 400, 800, 1_000, 1_000, 1_000,
    ]);
  });

  it('starts again from the first delay after reset', () => {
    const backoff = new Backoff(100, 1_000, 0);
    backoff.next();
    backoff.next();
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });

  it('spreads each delay within ±jitter', () => {
    const low = new Backoff(1_000, 5_000, 0.2, () => 0);
    const high = new Backoff(1_000, 5_000, 0.2, () => 1);
    expect([low.next(), low.next()]).toEqual([800, 1_600]);
    expect([high.next(), high.next()]).toEqual([1_200, 2_400]);
  });
});
