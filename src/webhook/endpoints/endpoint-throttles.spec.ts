import { Module } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { BootedModules, bootModules } from '../../../test/helpers/boot-modules.js';
import { endpointFixture } from '../../../test/helpers/endpoint-fixture.js';
import type { Endpoint } from './endpoint.js';
import {
  Grant,
  grantGated,
  RATE_BURST_MS,
  reachedReceiver,
  readBreakers,
} from './endpoint-throttles.js';

@Module({})
class NothingMore {}

const ID = 'ep_0000000000000000000000000000000b';

const endpoint = (changes: Partial<Endpoint>): Endpoint => endpointFixture(ID, changes);

/**
 * What the shared throttle rows grant a claim (the rate limit's GCRA and the breaker's one probe),
 * on a real in-memory database, at times the test chooses.
 */
describe('endpoint throttles', () => {
  let booted: BootedModules;

  beforeEach(async () => {
    booted = await bootModules([NothingMore]);
  });
  afterEach(() => booted.close());

  /** One claim at `now` wanting `wanted`, of which it takes `take(granted)`. */
  function claim(
    target: Endpoint,
    wanted: number,
    now: number,
    take: (granted: number) => number = (granted) => granted,
  ): Promise<Grant & { taken: number }> {
    return booted.dataSource.transaction(async (manager: EntityManager) => {
      const [grant] = await grantGated(manager, [{ endpoint: target, count: wanted }], now);
      const taken = take(grant.granted);
      await grant.spend(manager, taken, now + 20_000);
      return { ...grant, taken };
    });
  }

  it('spaces a rate-limited endpoint exactly 1/rate apart, catching up at most RATE_BURST_MS', async () => {
    const limited = endpoint({ rateLimit: 10 });
    const start = 1_000_000;
    // After a long pause: one now, plus what 250 ms of catch-up allows.
    const first = await claim(limited, 16, start);
    expect(first.granted).toBe(1 + Math.floor(RATE_BURST_MS / 100));
    expect(first.probe).toBe(false);
    // Nothing more at the same moment; the next is free exactly 100 ms after the last.
    const second = await claim(limited, 16, start);
    expect(second).toMatchObject({ granted: 0, moreAt: start + 50 });
    expect((await claim(limited, 16, start + 49)).granted).toBe(0);
    expect((await claim(limited, 16, start + 50)).granted).toBe(1);

    // Claims every 20 ms for 10 s, always wanting more: the ones free at +150, +250 … +10,050
    // ms, 10 per second, no more, no less.
    let granted = 0;
    for (let now = start + 60; now <= start + 10_060; now += 20) {
      granted += (await claim(limited, 16, now)).granted;
    }
    expect(granted).toBe(100);
  });

  it('gives back what a claim did not take', async () => {
    const limited = endpoint({ rateLimit: 10 });
    const start = 2_000_000;
    const first = await claim(limited, 16, start, () => 1);
    expect(first.granted).toBe(3);
    // Only one was taken: the other two are still there.
    expect((await claim(limited, 16, start)).granted).toBe(2);
  });

  it('grants an open breaker one probe once its time has come, and none while the probe is out', async () => {
    await booted.dataSource.query(
      `INSERT INTO webhook_endpoint_throttles
         (endpoint_id, rate_next_at, unreachable_attempts, breaker_opened_at, probe_at)
       VALUES (?, 0, 5, '2026-12-07T00:00:00.000Z', 5000)`,
      [ID],
    );
    const open = endpoint({ breakerOpen: true });
    expect(await claim(open, 1, 4_999)).toMatchObject({ granted: 0, moreAt: 5_000 });
    const probe = await claim(open, 16, 5_000);
    expect(probe).toMatchObject({ granted: 1, probe: true, breakerClosed: false });
    // The probe's lease holds the next one back until its record spaces it (or the lease ends).
    expect(await claim(open, 1, 6_000)).toMatchObject({ granted: 0, moreAt: 25_000 });
    const view = (await readBreakers(booted.dataSource.manager, [ID])).get(ID);
    expect(view).toMatchObject({ state: 'open', unreachable_attempts: 5 });
  });

  it('tells a process that thought the breaker open that it has closed', async () => {
    const stale = endpoint({ breakerOpen: true });
    expect(await claim(stale, 1, 1_000)).toMatchObject({
      granted: 1,
      probe: false,
      breakerClosed: true,
    });
  });

  it('holds an open breaker and a rate limit together', async () => {
    await booted.dataSource.query(
      `INSERT INTO webhook_endpoint_throttles
         (endpoint_id, rate_next_at, unreachable_attempts, breaker_opened_at, probe_at)
       VALUES (?, 10000, 5, '2026-12-07T00:00:00.000Z', 0)`,
      [ID],
    );
    const both = endpoint({ breakerOpen: true, rateLimit: 1 });
    expect(await claim(both, 1, 9_000)).toMatchObject({ granted: 0, moreAt: 10_000 });
    expect(await claim(both, 1, 10_000)).toMatchObject({ granted: 1, probe: true });
  });

  it.each([
    ['success', 200, true],
    ['http_error', 404, true],
    ['http_error', 410, true],
    ['http_error', 429, false],
    ['http_error', 500, false],
    ['http_error', 503, false],
    ['timeout', null, false],
    ['network_error', null, false],
  ] as const)(
    'counts %s %s as reaching a receiver able to take it: %s',
    (outcome, statusCode, reached) => {
      expect(reachedReceiver({ outcome, statusCode })).toBe(reached);
    },
  );
});
