import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BootedModules, bootModules } from '../../../test/helpers/boot-modules.js';
import { eventually } from '../../../test/helpers/deadline.js';
import { StepCompletedEvent } from '../../steps/events/step-completed.event.js';
import type { TerminalStepStatus } from '../../steps/step-status.js';
import type { EndpointFilter } from './endpoint.js';
import { EndpointRegistry } from './endpoint-registry.js';
import { WebhookEndpoint } from './entities/webhook-endpoint.entity.js';

@Module({
  imports: [TypeOrmModule.forFeature([WebhookEndpoint])],
  providers: [EndpointRegistry],
})
class RegistryModule {}

const event = (
  fields: Partial<{
    status: TerminalStepStatus;
    agentId: string | null;
    projectId: string | null;
    runId: string | null;
    tags: string[];
  }> = {},
) =>
  new StepCompletedEvent(
    'step-3f1d2c4b-5a6e-4f70-8b9c-0d1e2f3a4b5c',
    fields.status ?? 'success',
    fields.agentId === undefined ? 'agent-a' : fields.agentId,
    fields.runId ?? 'run-1',
    fields.projectId ?? 'project-1',
    fields.tags ?? [],
    'end_turn',
    '2026-12-01T00:00:00.000Z',
  );

/**
 * The registry on a real in-memory database: which endpoints a transition matches (the filter
 * rules of SPEC §9, through the agent index), and how it follows rows written by anyone.
 */
describe(EndpointRegistry.name, () => {
  let booted: BootedModules;
  let registry: EndpointRegistry;
  let counter = 0;

  async function addEndpoint(filter: EndpointFilter | null, disabled = false): Promise<string> {
    const id = `ep_${(++counter).toString(16).padStart(32, '0')}`;
    const now = new Date().toISOString();
    await booted.dataSource.getRepository(WebhookEndpoint).insert({
      id,
      url: 'https://example.com/hook',
      description: null,
      filter: filter ? JSON.stringify(filter) : null,
      payload: 'minimal',
      headers: '{}',
      secrets: JSON.stringify([{ secret: 'whsec_AAAA', expires_at: null }]),
      disabled,
      disabledReason: disabled ? 'manual' : null,
      failingSince: null,
      failedAttempts: 0,
      createdAt: now,
      updatedAt: now,
    });
    await booted.dataSource.query('UPDATE webhook_endpoint_revision SET revision = revision + 1');
    return id;
  }
  const matched = (at: StepCompletedEvent) => registry.matching(at).map((e) => e.id);

  beforeEach(async () => {
    booted = await bootModules([RegistryModule], { STEP_COMPLETE_WEBHOOK: 'http://127.0.0.1:9/h' });
    registry = booted.moduleRef.get(EndpointRegistry);
  });
  afterEach(() => booted.close());

  it('lists the environment endpoint, unfiltered, first', () => {
    expect(registry.all.map((endpoint) => endpoint.id)).toEqual(['env']);
    expect(matched(event({ agentId: null }))).toEqual(['env']);
  });

  it('matches every criterion given: any value within a list, every tag', async () => {
    const failures = await addEndpoint({ statuses: ['failed', 'cancelled'] });
    const agentA = await addEndpoint({ agent_ids: ['agent-a', 'agent-x'] });
    const tagged = await addEndpoint({ tags: ['prod', 'eu'] });
    const narrow = await addEndpoint({
      agent_ids: ['agent-a'],
      project_ids: ['project-1'],
      run_ids: ['run-1'],
      statuses: ['success'],
    });
    await registry.reload();

    expect(matched(event()).sort()).toEqual(['env', agentA, narrow].sort());
    expect(matched(event({ status: 'failed', agentId: 'agent-b' })).sort()).toEqual(
      ['env', failures].sort(),
    );
    expect(matched(event({ agentId: 'agent-x', tags: ['eu', 'prod', 'x'] })).sort()).toEqual(
      ['env', agentA, tagged].sort(),
    );
    expect(matched(event({ agentId: 'agent-b', tags: ['prod'] }))).toEqual(['env']);
    expect(matched(event({ runId: 'run-2' })).sort()).toEqual(['env', agentA].sort());
    // A step without an agent never matches an agent filter.
    expect(matched(event({ agentId: null }))).toEqual(['env']);
  });

  it('includes disabled endpoints (their deliveries are written held)', async () => {
    const disabled = await addEndpoint(null, true);
    await registry.reload();
    const found = registry.matching(event()).find((endpoint) => endpoint.id === disabled);
    expect(found?.disabled).toBe(true);
  });

  it('follows a change written elsewhere through the revision, within a second', async () => {
    const id = await addEndpoint(null);
    expect(registry.get(id)).toBeUndefined();
    await eventually(
      () => Promise.resolve(registry.get(id) !== undefined),
      'the registry to see the new revision',
      1_000,
    );
    expect(registry.all.map((endpoint) => endpoint.id)).toEqual(['env', id]);
  });

  it('reads the endpoints at once for an id it has not seen (a delivery to a new endpoint)', async () => {
    const id = await addEndpoint(null);
    await expect(registry.find(id)).resolves.toMatchObject({ id, restricted: true });
    await expect(registry.find('ep_ffffffffffffffffffffffffffffffff')).resolves.toBeUndefined();
  });
});
