import { bootModules, BootedModules } from '../../test/helpers/boot-modules.js';
import { eventually } from '../../test/helpers/deadline.js';
import { WebhookReceiver } from '../../test/helpers/webhook-receiver.js';
import { UnknownCursorError } from '../common/cursor-page.js';
import { ALL_PROJECTS, OutsideProjectsError } from '../common/project-scope.js';
import type { ProjectScope } from '../common/project-scope.js';
import { parseDeliveryConfig } from '../config/delivery.config.js';
import type { Step } from '../steps/entities/step.entity.js';
import { StepsModule } from '../steps/steps.module.js';
import { StepsService } from '../steps/steps.service.js';
import { DeliveriesService } from './deliveries/deliveries.service.js';
import { DeliveryReads } from './deliveries/delivery-reads.js';
import { EndpointsService } from './endpoints/endpoints.service.js';
import type { WebhookEndpoint } from './endpoints/entities/webhook-endpoint.entity.js';
import { WebhookDelivery } from './entities/webhook-delivery.entity.js';
import { DeliveryNotFoundError, EndpointNotFoundError } from './webhook.errors.js';
import { WebhookModule } from './webhook.module.js';

const A = ['proj-a'];
const NO_DELIVERY = 'msg_00000000000000000000000000000000';
const NO_ENDPOINT = 'ep_00000000000000000000000000000000';

/**
 * SPEC §10 on the webhook module's services, on a real SQLite database with a real receiver: a key
 * bound to projects sees the deliveries of its projects' steps (by the project copied onto each
 * delivery) and the endpoints whose filter is limited to its projects; everything else is not
 * found, not listed, not counted and not requeued.
 */
describe('Deliveries and endpoints within a ProjectScope', () => {
  let receiver: WebhookReceiver;
  let booted: BootedModules;
  let endpoints: EndpointsService;
  let reads: DeliveryReads;
  let deliveries: DeliveriesService;
  let steps: StepsService;
  /** Endpoints by what their filter names. */
  let ep: Record<'a' | 'b' | 'ab' | 'open' | 'agent', WebhookEndpoint>;
  let a1: Step, b1: Step;

  const endpoint = (filter: Record<string, string[]> | undefined) =>
    endpoints.create({ url: receiver.url('/api'), filter }, ALL_PROJECTS);
  const allDeliveries = () => booted.dataSource.getRepository(WebhookDelivery).find();

  beforeEach(async () => {
    receiver = (await WebhookReceiver.start()).replyWith({ status: 500 });
    const env = {
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
      STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8',
    };
    const webhook = WebhookModule.register(parseDeliveryConfig(env));
    booted = await bootModules([StepsModule.withCompletionOutbox(webhook), webhook], env);
    endpoints = booted.moduleRef.get(EndpointsService);
    reads = booted.moduleRef.get(DeliveryReads);
    deliveries = booted.moduleRef.get(DeliveriesService);
    steps = booted.moduleRef.get(StepsService);
    ep = {
      a: await endpoint({ project_ids: ['proj-a'] }),
      b: await endpoint({ project_ids: ['proj-b'] }),
      ab: await endpoint({ project_ids: ['proj-a', 'proj-b'] }),
      open: await endpoint(undefined),
      agent: await endpoint({ agent_ids: ['agent-1'] }),
    };
  });
  afterEach(async () => {
    await receiver.close();
    await booted.close();
  });

  /** a1 (proj-a) and b1 (proj-b) succeed; each of their deliveries fails once (500, no retries). */
  async function completedAndFailed(): Promise<void> {
    a1 = await steps.create({ project_id: 'proj-a', agent_id: 'agent-1' }, ALL_PROJECTS);
    b1 = await steps.create({ project_id: 'proj-b', agent_id: 'agent-1' }, ALL_PROJECTS);
    await steps.markSucceeded(a1.id, {}, ALL_PROJECTS);
    await steps.markSucceeded(b1.id, {}, ALL_PROJECTS);
    // Each: env, its own project's endpoint, ab, open and agent.
    await receiver.waitForRequests(10);
    await eventually(
      async () => (await allDeliveries()).every((delivery) => delivery.status === 'failed'),
      'all 10 deliveries failed',
    );
  }

  describe('deliveries', () => {
    beforeEach(() => completedAndFailed());

    it('carry their step’s project, copied by the outbox', async () => {
      const rows = await allDeliveries();
      expect(rows).toHaveLength(10);
      for (const row of rows) {
        expect(row.projectId).toBe(row.stepId === a1.id ? 'proj-a' : 'proj-b');
      }
    });

    it('are listed within the scope only, by every filter and cursor', async () => {
      const list = async (query: Parameters<DeliveryReads['list']>[0], scope: ProjectScope = A) =>
        (await reads.list(query, scope)).map((delivery) => delivery.stepId);
      expect(await list({})).toEqual(Array(5).fill(a1.id));
      expect(await list({ status: 'failed' })).toEqual(Array(5).fill(a1.id));
      expect(await list({ step_id: b1.id })).toEqual([]);
      expect(await list({ endpoint_id: ep.b.id })).toEqual([]);
      expect(await list({ endpoint_id: ep.ab.id })).toEqual([a1.id]);
      expect(await list({}, [])).toEqual([]);
      expect(await list({}, ALL_PROJECTS)).toHaveLength(10);

      const ofB = (await allDeliveries()).filter((delivery) => delivery.stepId === b1.id);
      for (const field of ['after', 'before'] as const) {
        await expect(reads.list({ [field]: NO_DELIVERY }, A)).rejects.toThrow(
          new UnknownCursorError(field, NO_DELIVERY),
        );
        await expect(reads.list({ [field]: ofB[0].id }, A)).rejects.toThrow(
          new UnknownCursorError(field, ofB[0].id),
        );
      }
    });

    it('of another project are not found, not retried, not counted and not requeued', async () => {
      const all = await allDeliveries();
      const ofA = all.filter((delivery) => delivery.stepId === a1.id);
      const ofB = all.filter((delivery) => delivery.stepId === b1.id);

      expect(await reads.findForStep(b1.id, A)).toEqual([]);
      expect(await reads.findForStep(a1.id, A)).toHaveLength(5);
      for (const delivery of ofB) {
        await expect(deliveries.findOne(delivery.id, A)).rejects.toThrow(
          new DeliveryNotFoundError(delivery.id),
        );
        await expect(deliveries.retryNow(delivery.id, A)).rejects.toThrow(
          new DeliveryNotFoundError(delivery.id),
        );
      }
      await expect(deliveries.findOne(ofA[0].id, A)).resolves.toMatchObject({ id: ofA[0].id });

      const mine = await deliveries.summary(A);
      expect(mine).toMatchObject({
        receiver_url: null,
        counts: { pending: 0, held: 0, delivered: 0, failed: 5 },
        last_hour: { attempts: 5, succeeded: 0 },
      });
      const everyone = await deliveries.summary(ALL_PROJECTS);
      expect(everyone).toMatchObject({
        receiver_url: receiver.url(),
        counts: { failed: 10 },
        last_hour: { attempts: 10 },
      });

      const since = new Date(Date.now() - 3_600_000);
      expect(await reads.endpointStats(ep.ab.id, since, A)).toMatchObject({
        counts: { failed: 1 },
        attempts: 1,
      });
      expect(await reads.endpointStats(ep.ab.id, since, ALL_PROJECTS)).toMatchObject({
        counts: { failed: 2 },
        attempts: 2,
      });

      const sinceIso = since.toISOString();
      expect(await deliveries.recoverFailedSince(sinceIso, ep.b.id, A)).toBe(0);
      const requeuedBefore = receiver.requests.length;
      expect(await deliveries.recoverFailedSince(sinceIso, undefined, A)).toBe(5);
      await receiver.waitForRequests(requeuedBefore + 5);
      const after = await allDeliveries();
      // B's stayed failed, with their single attempt; A's were attempted again.
      for (const delivery of after.filter((row) => row.stepId === b1.id))
        expect(delivery).toMatchObject({ status: 'failed', attemptCount: 1 });
      const requeuedSteps = receiver.requests
        .slice(requeuedBefore)
        .map((request) => (JSON.parse(request.rawBody.toString()) as { step_id: string }).step_id);
      expect(new Set(requeuedSteps)).toEqual(new Set([a1.id]));
    });
  });

  describe('endpoints', () => {
    it('are visible when their filter names only the key’s projects; list and get agree', async () => {
      const visibleFrom = async (scope: ProjectScope) => {
        const listed = (await endpoints.list({ limit: 1000, order: 'asc' }, scope)).map(
          (row) => row.id,
        );
        const found: string[] = [];
        for (const row of Object.values(ep)) {
          if (
            await endpoints.findOne(row.id, scope).then(
              () => true,
              () => false,
            )
          )
            found.push(row.id);
        }
        expect(new Set(listed)).toEqual(new Set(found));
        return new Set(listed);
      };
      expect(await visibleFrom(A)).toEqual(new Set([ep.a.id]));
      expect(await visibleFrom(['proj-b'])).toEqual(new Set([ep.b.id]));
      expect(await visibleFrom(['proj-a', 'proj-b', 'proj-c'])).toEqual(
        new Set([ep.a.id, ep.b.id, ep.ab.id]),
      );
      expect(await visibleFrom([])).toEqual(new Set());
      expect(await visibleFrom(ALL_PROJECTS)).toEqual(new Set(Object.values(ep).map((e) => e.id)));
      await expect(endpoints.findOne('env', A)).rejects.toThrow(new EndpointNotFoundError('env'));
    });

    it('of other projects are not found by any change, and stay as they were', async () => {
      for (const hidden of [ep.b, ep.ab, ep.open, ep.agent]) {
        const notFound = new EndpointNotFoundError(hidden.id);
        await expect(endpoints.secret(hidden.id, A)).rejects.toThrow(notFound);
        await expect(endpoints.rotateSecret(hidden.id, A)).rejects.toThrow(notFound);
        await expect(endpoints.update(hidden.id, { disabled: true }, A)).rejects.toThrow(notFound);
        await expect(
          endpoints.update(hidden.id, { filter: { project_ids: ['proj-a'] } }, A),
        ).rejects.toThrow(notFound);
        await expect(endpoints.remove(hidden.id, A)).rejects.toThrow(notFound);
        const unchanged = await endpoints.findOne(hidden.id, ALL_PROJECTS);
        expect(unchanged).toEqual(hidden);
      }
      await expect(endpoints.remove(NO_ENDPOINT, A)).rejects.toThrow(
        new EndpointNotFoundError(NO_ENDPOINT),
      );
      for (const field of ['after', 'before'] as const) {
        await expect(endpoints.list({ [field]: ep.b.id }, A)).rejects.toThrow(
          new UnknownCursorError(field, ep.b.id),
        );
      }
    });

    it('are created and changed by a bound key only within its projects', async () => {
      const url = receiver.url('/mine');
      const missing = new OutsideProjectsError('filter.project_ids', null);
      await expect(endpoints.create({ url }, A)).rejects.toThrow(missing);
      await expect(endpoints.create({ url, filter: null }, A)).rejects.toThrow(missing);
      await expect(endpoints.create({ url, filter: { statuses: ['failed'] } }, A)).rejects.toThrow(
        missing,
      );
      await expect(
        endpoints.create({ url, filter: { project_ids: ['proj-a', 'proj-b'] } }, A),
      ).rejects.toThrow(new OutsideProjectsError('filter.project_ids', 'proj-b'));
      const created = await endpoints.create({ url, filter: { project_ids: ['proj-a'] } }, A);

      await expect(endpoints.update(created.id, { filter: null }, A)).rejects.toThrow(missing);
      await expect(
        endpoints.update(created.id, { filter: { project_ids: ['proj-b'] } }, A),
      ).rejects.toThrow(new OutsideProjectsError('filter.project_ids', 'proj-b'));
      // Left out, the filter stays (it is within the key's projects already).
      await expect(endpoints.update(created.id, { description: 'mine' }, A)).resolves.toMatchObject(
        { description: 'mine', filter: '{"project_ids":["proj-a"]}' },
      );
      await expect(endpoints.rotateSecret(created.id, A)).resolves.toMatch(/^whsec_/);
      await endpoints.remove(created.id, A);
      await expect(endpoints.findOne(created.id, ALL_PROJECTS)).rejects.toThrow(
        new EndpointNotFoundError(created.id),
      );
    });
  });
});
