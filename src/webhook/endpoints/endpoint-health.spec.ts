import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BootedModules, bootModules } from '../../../test/helpers/boot-modules.js';
import {
  AttemptOutcomeAt,
  EndpointHealth,
  MIN_FAILED_ATTEMPTS_TO_DISABLE,
} from './endpoint-health.js';
import { EndpointRegistry } from './endpoint-registry.js';
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
      createdAt: now,
      updatedAt: now,
    });
  });
  afterEach(() => booted.close());

  const failures = (count: number, at: Date, endpointId = ID): AttemptOutcomeAt[] =>
    Array.from({ length: count }, () => ({ endpointId, succeeded: false, at }));
  const record = (outcomes: AttemptOutcomeAt[]) =>
    booted.dataSource.transaction((manager) => health.record(manager, outcomes));
  const row = () => booted.dataSource.getRepository(WebhookEndpoint).findOneByOrFail({ id: ID });

  it('disables an endpoint whose attempts have all failed for the whole window, 10 or more', async () => {
    const longAgo = new Date(Date.now() - 2 * HOUR_MS);
    await expect(record(failures(MIN_FAILED_ATTEMPTS_TO_DISABLE - 1, longAgo))).resolves.toEqual(
      [],
    );
    await expect(record(failures(1, new Date()))).resolves.toEqual([ID]);
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
    await expect(record(failures(50, new Date(Date.now() - HOUR_MS / 2)))).resolves.toEqual([]);
    expect((await row()).disabled).toBe(false);
  });

  it('starts the streak again after a success', async () => {
    const longAgo = new Date(Date.now() - 2 * HOUR_MS);
    await record(failures(5, longAgo));
    const recent = new Date();
    await expect(
      record([{ endpointId: ID, succeeded: true, at: recent }, ...failures(3, recent)]),
    ).resolves.toEqual([]);
    expect(await row()).toMatchObject({
      disabled: false,
      failedAttempts: 3,
      failingSince: recent.toISOString(),
    });
    await record([{ endpointId: ID, succeeded: true, at: new Date() }]);
    expect(await row()).toMatchObject({ failedAttempts: 0, failingSince: null });
  });

  it('never disables the environment endpoint', async () => {
    const longAgo = new Date(Date.now() - 2 * HOUR_MS);
    await expect(record(failures(100, longAgo, 'env'))).resolves.toEqual([]);
  });
});
