import { BackgroundPace } from './background-pace.js';

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

describe(BackgroundPace.name, () => {
  let pace: BackgroundPace;
  beforeEach(() => {
    pace = new BackgroundPace(64);
  });
  afterEach(() => pace.close());

  it('gives background work every slot while no live traffic flows, however busy the loop', async () => {
    await busyLoop(30, 10);
    expect(pace.allowance).toBe(64);
  });

  it('halves the budget while live traffic flows and the event loop lags, down to one', async () => {
    pace.live();
    await busyLoop(30, 12);
    pace.live();
    expect(pace.allowance).toBeLessThanOrEqual(8);
    expect(pace.allowance).toBeGreaterThanOrEqual(1);
  });

  it('grows it back one at a time once the loop is quiet', async () => {
    pace.live();
    await busyLoop(30, 12);
    pace.live();
    const low = pace.allowance;
    await new Promise((resolve) => setTimeout(resolve, 650));
    pace.live();
    expect(pace.allowance).toBeGreaterThan(low);
    expect(pace.allowance).toBeLessThan(64);
  });
});
