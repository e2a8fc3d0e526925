import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BootedModules, bootModules } from '../../../test/helpers/boot-modules.js';
import {
  AttemptOutcomeAt,
  EndpointHealth,
  MIN_FAILED_ATTEMPTS_TO_DISABLE,
} from './endpoint-health.js';
import { EndpointRegistry } from './endpoint-registry.js';
import {
  BREAKER_OPENS_AFTER,
  PROBE_SPACING_MAX_MS,
  PROBE_SPACING_MIN_MS,
  readBreakers,
} from './endpoint-throttles.js';
import { WebhookEndpoint } from './entities/webhook-endpoint.entity.js';

@Module({
  imports: [TypeOrmModule.forFeature([WebhookEndpoint])],
  providers: [EndpointRegistry, EndpointHealth],
})
class HealthModule {}

const ID = 'ep_0000000000000000000000000000000a';
const HOUR_MS = 3_600_000;

/** The failing streak and the automatic disable, on a real in-memory database. */
describe(EndpointHealth.name, () => {
  let booted: BootedModules;
  let health: EndpointHealth;

  beforeEach(async () => {
    booted = await bootModules([HealthModule], {
      STEP_COMPLETE_WEBHOOK: 'http://127.0.0.1:9/hook',
      STEP_COMPLETE_DISABLE_AFTER: '1h',
    });
    health = booted.moduleRef.get(EndpointHealth);
    const now = new Date().toISOString();
    await booted.dataSource.getRepository(WebhookEndpoint).insert({
      id: ID,
      url: 'https://example.com/hook',
      description: null,
      filter: null,
      payload: 'minimal',
      headers: '{}',
      secrets: '[]',
      disabled: false,
      disabledReason: null,
      failingSince: null,
      failedAttempts: 0,
      maxInFlight: 16,
      rateLimit: null,
      createdAt: now,
      updatedAt: now,
    });
  });
  afterEach(() => booted.close());

  const failures = (count: number, at: Date, endpointId = ID): AttemptOutcomeAt[] =>
    Array.from({ length: count }, () => ({
      endpointId,
      succeeded: false,
      reached: true,
      probe: false,
      at,
    }));
  const record = (outcomes: AttemptOutcomeAt[]) =>
    booted.dataSource.transaction((manager) => health.record(manager, outcomes));
  const row = () => booted.dataSource.getRepository(WebhookEndpoint).findOneByOrFail({ id: ID });

  it('disables an endpoint whose attempts have all failed for the whole window, 10 or more', async () => {
    const longAgo = new Date(Date.now() - 2 * HOUR_MS);
    await expect(
      record(failures(MIN_FAILED_ATTEMPTS_TO_DISABLE - 1, longAgo)),
    ).resolves.toMatchObject({ disabled: [] });
    await expect(record(failures(1, new Date()))).resolves.toMatchObject({ disabled: [ID] });
    expect(await row()).toMatchObject({
      disabled: true,
      disabledReason: 'failing',
      failedAttempts: MIN_FAILED_ATTEMPTS_TO_DISABLE,
      failingSince: longAgo.toISOString(),
    });
    // The revision moved, so every process's registry reloads it, disabled.
    const [{ revision }] = await booted.dataSource.query<{ revision: number }[]>(
      'SELECT revision FROM webhook_endpoint_revision',
    );
    expect(revision).toBe(1);
    await booted.moduleRef.get(EndpointRegistry).reload();
    expect(booted.moduleRef.get(EndpointRegistry).get(ID)?.disabled).toBe(true);
  });

  it('does not disable before the window has passed, however many failures', async () => {
    await expect(record(failures(50, new Date(Date.now() - HOUR_MS / 2)))).resolves.toMatchObject({
      disabled: [],
    });
    expect((await row()).disabled).toBe(false);
  });

  it('starts the streak again after a success', async () => {
    const longAgo = new Date(Date.now() - 2 * HOUR_MS);
    await record(failures(5, longAgo));
    const recent = new Date();
    await expect(
      record([
        { endpointId: ID, succeeded: true, reached: true, probe: false, at: recent },
        ...failures(3, recent),
      ]),
    ).resolves.toMatchObject({ disabled: [] });
    expect(await row()).toMatchObject({
      disabled: false,
      failedAttempts: 3,
      failingSince: recent.toISOString(),
    });
    await record([
      { endpointId: ID, succeeded: true, reached: true, probe: false, at: new Date() },
    ]);
    expect(await row()).toMatchObject({ failedAttempts: 0, failingSince: null });
  });

  it('never disables the environment endpoint', async () => {
    const longAgo = new Date(Date.now() - 2 * HOUR_MS);
    await expect(record(failures(100, longAgo, 'env'))).resolves.toMatchObject({ disabled: [] });
  });

  describe('circuit breaker', () => {
    const unreachable = (count: number, endpointId = ID, probe = false): AttemptOutcomeAt[] =>
      Array.from({ length: count }, () => ({
        endpointId,
        succeeded: false,
        reached: false,
        probe,
        at: new Date(),
      }));
    const answered = (succeeded: boolean, endpointId = ID): AttemptOutcomeAt => ({
      endpointId,
      succeeded,
      reached: true,
      probe: false,
      at: new Date(),
    });
    const breaker = async (endpointId = ID) =>
      (await readBreakers(booted.dataSource.manager, [endpointId])).get(endpointId)!;
    const revision = async () =>
      Number(
        (
          await booted.dataSource.query<{ revision: number }[]>(
            'SELECT revision FROM webhook_endpoint_revision',
          )
        )[0].revision,
      );

    it(`opens after ${BREAKER_OPENS_AFTER} unreachable attempts in a row, and says so to every process`, async () => {
      await expect(record(unreachable(BREAKER_OPENS_AFTER - 1))).resolves.toMatchObject({
        opened: [],
      });
      expect(await breaker()).toMatchObject({ state: 'closed', unreachable_attempts: 4 });
      const before = Date.now();
      await expect(record(unreachable(1))).resolves.toMatchObject({ opened: [ID], closed: [] });
      const open = await breaker();
      expect(open).toMatchObject({ state: 'open', unreachable_attempts: BREAKER_OPENS_AFTER });
      expect(Date.parse(open.next_probe_at!)).toBeGreaterThanOrEqual(before + PROBE_SPACING_MIN_MS);
      expect(await revision()).toBe(1);
      const registry = booted.moduleRef.get(EndpointRegistry);
      await registry.reload();
      expect(registry.get(ID)?.breakerOpen).toBe(true);
      // Opening never disables.
      expect((await row()).disabled).toBe(false);
    });

    it('spaces the next probe by half the time it has been open, from the min to the max; other failures leave it', async () => {
      await record(unreachable(BREAKER_OPENS_AFTER));
      const nextProbe = async () => Date.parse((await breaker()).next_probe_at!);
      const firstProbe = await nextProbe();
      // Attempts already on the wire when it opened fail too: the first probe stays where it was.
      await record(unreachable(10));
      expect(await nextProbe()).toBe(firstProbe);

      const openedFor = async (ms: number) => {
        const openedAt = new Date(Date.now() - ms).toISOString();
        await booted.dataSource.query(
          'UPDATE webhook_endpoint_throttles SET breaker_opened_at = ? WHERE endpoint_id = ?',
          [openedAt, ID],
        );
        const before = Date.now();
        await record(unreachable(1, ID, true));
        return (await nextProbe()) - before;
      };
      expect(await openedFor(0)).toBeGreaterThanOrEqual(PROBE_SPACING_MIN_MS - 5);
      expect(await openedFor(0)).toBeLessThan(PROBE_SPACING_MIN_MS + 100);
      expect(await openedFor(10_000)).toBeGreaterThanOrEqual(5_000 - 5);
      expect(await openedFor(10_000)).toBeLessThan(5_000 + 100);
      expect(await openedFor(3_600_000)).toBeLessThanOrEqual(PROBE_SPACING_MAX_MS + 100);
      expect(await openedFor(3_600_000)).toBeGreaterThanOrEqual(PROBE_SPACING_MAX_MS - 5);
      expect((await breaker()).state).toBe('open');
    });

    it('closes at the first answer, even an HTTP error, and the count starts again', async () => {
      await record(unreachable(BREAKER_OPENS_AFTER + 2));
      await expect(record([answered(false), ...unreachable(2)])).resolves.toMatchObject({
        opened: [],
        closed: [ID],
      });
      expect(await breaker()).toEqual({
        state: 'closed',
        opened_at: null,
        unreachable_attempts: 2,
        next_probe_at: null,
      });
      await record([answered(true)]);
      expect(await breaker()).toMatchObject({ state: 'closed', unreachable_attempts: 0 });
    });

    it('answers that break no run write nothing', async () => {
      await expect(record([answered(true), answered(false)])).resolves.toEqual({
        disabled: [],
        opened: [],
        closed: [],
      });
      const rows = await booted.dataSource.query('SELECT * FROM webhook_endpoint_throttles');
      expect(rows).toEqual([]);
    });

    it('also guards the environment endpoint, which has no endpoint row', async () => {
      await expect(record(unreachable(BREAKER_OPENS_AFTER, 'env'))).resolves.toMatchObject({
        opened: ['env'],
      });
      expect((await breaker('env')).state).toBe('open');
      await expect(record([answered(true, 'env')])).resolves.toMatchObject({ closed: ['env'] });
    });
  });
});
