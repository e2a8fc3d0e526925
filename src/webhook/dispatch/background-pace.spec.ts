import { BackgroundPace, MIN_PER_SECOND } from './background-pace.js';

/** Keeps the event loop busy for `ms` at a time, `times` times, letting timers run in between. */
async function busyLoop(ms: number, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      // busy: what a backlog draining at full speed does to the event loop
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(BackgroundPace.name, () => {
  let pace: BackgroundPace;
  beforeEach(() => {
    pace = new BackgroundPace();
  });
  afterEach(() => pace.close());

  it('allows every background attempt while no live traffic flows, however busy the loop', async () => {
    await busyLoop(30, 5);
    expect(pace.pacing).toBe(false);
    expect(pace.allow(64)).toBe(64);
  });

  it('while live traffic flows, starts background attempts at a pace, without a burst', async () => {
    pace.live();
    await sleep(1_000);
    pace.live();
    // 20/s to start with, growing while the loop is quiet; never more than a tenth of a second's.
    const first = pace.allow(1_000);
    expect(first).toBeGreaterThanOrEqual(1);
    expect(first).toBeLessThan(100);
    expect(pace.allow(1_000)).toBe(0);
    pace.giveBack(1);
    expect(pace.allow(1_000)).toBe(1);
  });

  it('grows the pace by a step per quiet reading and halves it per lagging one, down to the minimum', () => {
    for (let i = 0; i < 5; i++) pace.follow(0);
    expect(pace.pace).toBe(MIN_PER_SECOND + 5 * 20);
    pace.follow(2); // between the thresholds: unchanged
    expect(pace.pace).toBe(MIN_PER_SECOND + 5 * 20);
    pace.follow(10);
    expect(pace.pace).toBe((MIN_PER_SECOND + 5 * 20) / 2);
    for (let i = 0; i < 10; i++) pace.follow(10);
    expect(pace.pace).toBe(MIN_PER_SECOND);
  });

  it('reads the lag of the real event loop: a busy loop brings the pace down', async () => {
    for (let i = 0; i < 10; i++) pace.follow(0);
    expect(pace.pace).toBeGreaterThan(MIN_PER_SECOND * 4);
    await busyLoop(30, 20);
    expect(pace.pace).toBeLessThan(MIN_PER_SECOND * 4);
  });
});
