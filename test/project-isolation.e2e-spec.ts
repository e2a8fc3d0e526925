import request from 'supertest';
import { SCOPES } from '../src/auth/principal.js';
import { eventually } from './helpers/deadline.js';
import { createTestApp, TestApp } from './helpers/test-app.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';

const API_KEY = 'sk-stephook-test-0123456789';
const ADMIN = `Bearer ${API_KEY}`;
/** Ids of each kind that name nothing: what a hidden row must be indistinguishable from. */
const NO_STEP = 'step-00000000-0000-4000-8000-000000000000';
const NO_DELIVERY = 'msg_00000000000000000000000000000000';
const NO_ENDPOINT = 'ep_00000000000000000000000000000000';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Json = Record<string, unknown>;

/**
 * One request of the key bound to project A. `hidden`: it names a row of project B (or of no
 * project, or the environment endpoint), and must answer exactly as the same request naming
 * `nowhere`, an id that does not exist. Otherwise its status is `status` and `check` holds.
 */
interface Probe {
  name: string;
  method: Method;
  path: string;
  body?: object;
  status: number;
  hidden?: { id: string; nowhere: string };
  check?: (body: unknown) => void;
}

interface Ids {
  a1: string;
  a2: string;
  aNew: string;
  b1: string;
  b2: string;
  bNone: string;
  aDeliveries: string[];
  bDeliveries: string[];
  epA: string;
  epB: string;
  epOpen: string;
}

/** The ids of a list answer. */
function idsOf(body: unknown): string[] {
  return (body as { id: string }[]).map((row) => row.id);
}

/**
 * SPEC §10, from the outside: two projects, A and B, each with steps, deliveries (to a real
 * receiver) and endpoints; a key bound to A asks for everything of B by every route, filter and
 * cursor, and gets 404 (or an empty list, or zero counts) exactly as for something that does not
 * exist — never a row of B — while everything of A works.
 */
describe('A key bound to project A, against project B (e2e)', () => {
  let receiver: WebhookReceiver;
  let t: TestApp;
  let keyA: string;
  const ids = {} as Ids;
  let since: string;
  let afterA1: string[];

  const call = (authorization: string, method: Method, path: string, body?: object) => {
    const pending = request(t.server)[method](path).set('authorization', authorization);
    return body === undefined ? pending : pending.send(body);
  };
  const admin = async <T = Json>(method: Method, path: string, body?: object, status = 200) => {
    const response = await call(ADMIN, method, path, body);
    expect(response.status).toBe(status);
    return response.body as T;
  };

  beforeAll(async () => {
    receiver = (await WebhookReceiver.start()).replyWith({ status: 500 });
    t = await createTestApp({
      API_KEY,
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
      STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8',
    });
    since = new Date(Date.now() - 60_000).toISOString();
    const created = await admin(
      'post',
      '/v1/api-keys',
      {
        name: 'project A',
        scopes: SCOPES.filter((scope) => scope !== 'admin' && scope !== 'metrics:read'),
        project_ids: ['proj-a'],
      },
      201,
    );
    keyA = `Bearer ${created.key as string}`;

    const endpoint = async (filter: object | undefined) =>
      (await admin('post', '/v1/webhook-endpoints', { url: receiver.url('/api'), filter }, 201))
        .id as string;
    ids.epA = await endpoint({ project_ids: ['proj-a'] });
    ids.epB = await endpoint({ project_ids: ['proj-b'] });
    ids.epOpen = await endpoint(undefined);

    const step = async (body: object) => (await admin('post', '/v1/steps', body, 201)).id as string;
    ids.a1 = await step({ project_id: 'proj-a', agent_id: 'agent-shared', run_id: 'run-a' });
    ids.a2 = await step({ project_id: 'proj-a', agent_id: 'agent-a', run_id: 'run-a' });
    ids.b1 = await step({ project_id: 'proj-b', agent_id: 'agent-shared', run_id: 'run-b' });
    ids.b2 = await step({ project_id: 'proj-b', agent_id: 'agent-b', run_id: 'run-b' });
    ids.bNone = await step({ agent_id: 'agent-shared', run_id: 'run-b' });
    for (const id of [ids.a1, ids.b1]) {
      await admin('post', `/v1/steps/${id}/success`, {});
      await admin('put', `/v1/steps/${id}/metrics`, { step_ns: '1000' });
    }
    // a1 and b1 each: env, its project's endpoint and the open one; every attempt answered 500.
    await receiver.waitForRequests(6);
    await eventually(async () => {
      const rows = await admin<Json[]>('get', '/v1/webhook-deliveries?status=failed');
      return rows.length === 6;
    }, 'the 6 deliveries of a1 and b1 failed');
    const deliveriesOf = async (stepId: string) =>
      idsOf(await admin('get', `/v1/steps/${stepId}/deliveries`));
    ids.aDeliveries = await deliveriesOf(ids.a1);
    ids.bDeliveries = await deliveriesOf(ids.b1);
    // What A's key must see after a1: what API_KEY sees of project A after it.
    afterA1 = idsOf(await admin('get', `/v1/steps?project_id=proj-a&order=asc&after=${ids.a1}`));
  });

  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  /** Every id of B and every trace of project B: none may appear in an answer to A's key. */
  const ofB = () => [ids.b1, ids.b2, ids.bNone, ...ids.bDeliveries, ids.epB, 'proj-b'];

  const emptyList = (body: unknown) => expect(body).toEqual([]);

  /** The table: built after setup, since it names the rows setup made. */
  function probes(): Probe[] {
    const b1 = { id: ids.b1, nowhere: NO_STEP };
    const b2 = { id: ids.b2, nowhere: NO_STEP };
    const bNone = { id: ids.bNone, nowhere: NO_STEP };
    const epB = { id: ids.epB, nowhere: NO_ENDPOINT };
    const epOpen = { id: ids.epOpen, nowhere: NO_ENDPOINT };
    const env = { id: 'env', nowhere: NO_ENDPOINT };
    const stepAttacks: Probe[] = [b1, b2, bNone].flatMap((hidden) => [
      { name: 'get a step', method: 'get', path: `/v1/steps/${hidden.id}`, status: 404, hidden },
      {
        name: 'succeed a step',
        method: 'post',
        path: `/v1/steps/${hidden.id}/success`,
        body: {},
        status: 404,
        hidden,
      },
      {
        name: 'fail a step',
        method: 'post',
        path: `/v1/steps/${hidden.id}/error`,
        body: { error_type: 'E', error_message: 'm' },
        status: 404,
        hidden,
      },
      {
        name: 'cancel a step',
        method: 'post',
        path: `/v1/steps/${hidden.id}/cancel`,
        status: 404,
        hidden,
      },
      {
        name: 'feedback',
        method: 'patch',
        path: `/v1/steps/${hidden.id}/feedback`,
        body: { feedback: 'negative' },
        status: 404,
        hidden,
      },
      {
        name: 'record metrics',
        method: 'put',
        path: `/v1/steps/${hidden.id}/metrics`,
        body: { step_ns: '1' },
        status: 404,
        hidden,
      },
      {
        name: 'read metrics',
        method: 'get',
        path: `/v1/steps/${hidden.id}/metrics`,
        status: 404,
        hidden,
      },
      {
        name: 'a step’s deliveries',
        method: 'get',
        path: `/v1/steps/${hidden.id}/deliveries`,
        status: 200,
        hidden,
        check: emptyList,
      },
      ...(['after', 'before'] as const).map((cursor): Probe => ({
        name: `steps ${cursor}= cursor`,
        method: 'get',
        path: `/v1/steps?order=asc&${cursor}=${hidden.id}`,
        status: 400,
        hidden,
      })),
      ...(['after', 'before'] as const).map((cursor): Probe => ({
        name: `run steps ${cursor}= cursor`,
        method: 'get',
        path: `/v1/runs/run-a/steps?${cursor}=${hidden.id}`,
        status: 400,
        hidden,
      })),
    ]);
    const deliveryAttacks: Probe[] = ids.bDeliveries.flatMap((id) => {
      const hidden = { id, nowhere: NO_DELIVERY };
      return [
        {
          name: 'get a delivery',
          method: 'get',
          path: `/v1/webhook-deliveries/${id}`,
          status: 404,
          hidden,
        },
        {
          name: 'retry a delivery',
          method: 'post',
          path: `/v1/webhook-deliveries/${id}/retry`,
          status: 404,
          hidden,
        },
        ...(['after', 'before'] as const).map((cursor): Probe => ({
          name: `deliveries ${cursor}= cursor`,
          method: 'get',
          path: `/v1/webhook-deliveries?${cursor}=${id}`,
          status: 400,
          hidden,
        })),
      ];
    });
    const endpointAttacks: Probe[] = [epB, epOpen, env].flatMap((hidden) => [
      {
        name: 'get an endpoint',
        method: 'get',
        path: `/v1/webhook-endpoints/${hidden.id}`,
        status: 404,
        hidden,
      },
      {
        name: 'endpoint stats',
        method: 'get',
        path: `/v1/webhook-endpoints/${hidden.id}/stats`,
        status: 404,
        hidden,
      },
      {
        name: 'endpoint secret',
        method: 'get',
        path: `/v1/webhook-endpoints/${hidden.id}/secret`,
        status: 404,
        hidden,
      },
      {
        name: 'rotate a secret',
        method: 'post',
        path: `/v1/webhook-endpoints/${hidden.id}/secret/rotate`,
        status: 404,
        hidden,
      },
      {
        name: 'patch an endpoint',
        method: 'patch',
        path: `/v1/webhook-endpoints/${hidden.id}`,
        body: { disabled: true, filter: { project_ids: ['proj-a'] } },
        status: 404,
        hidden,
      },
      {
        name: 'delete an endpoint',
        method: 'delete',
        path: `/v1/webhook-endpoints/${hidden.id}`,
        status: 404,
        hidden,
      },
      ...(['after', 'before'] as const).map((cursor): Probe => ({
        name: `endpoints ${cursor}= cursor`,
        method: 'get',
        path: `/v1/webhook-endpoints?${cursor}=${hidden.id}`,
        status: 400,
        hidden,
      })),
    ]);
    const filters: Probe[] = [
      { name: 'steps of project B', path: '/v1/steps?project_id=proj-b', check: emptyList },
      { name: 'steps of B’s agent', path: '/v1/steps?agent_id=agent-b', check: emptyList },
      {
        name: 'steps of an agent in both projects',
        path: '/v1/steps?agent_id=agent-shared',
        check: (body: unknown) => expect(idsOf(body)).toEqual([ids.a1]),
      },
      { name: 'B’s run', path: '/v1/runs/run-b/steps', check: emptyList },
      {
        name: 'deliveries of B’s step',
        path: `/v1/webhook-deliveries?step_id=${ids.b1}`,
        check: emptyList,
      },
      {
        name: 'deliveries of B’s endpoint',
        path: `/v1/webhook-deliveries?endpoint_id=${ids.epB}`,
        check: emptyList,
      },
      {
        name: 'deliveries of the open endpoint: A’s only',
        path: `/v1/webhook-deliveries?endpoint_id=${ids.epOpen}`,
        check: (body: unknown) =>
          expect(body).toEqual([expect.objectContaining({ step_id: ids.a1 })]),
      },
      {
        name: 'failed deliveries: A’s only',
        path: '/v1/webhook-deliveries?status=failed&limit=1000',
        check: (body: unknown) => expect(new Set(idsOf(body))).toEqual(new Set(ids.aDeliveries)),
      },
      {
        name: 'summary: A’s counts, no receiver URL',
        path: '/v1/webhook-deliveries/summary',
        check: (body: unknown) =>
          expect(body).toMatchObject({
            receiver_url: null,
            counts: { pending: 0, held: 0, delivered: 0, failed: 3 },
            last_hour: { attempts: 3, succeeded: 0 },
          }),
      },
      {
        name: 'endpoints: A’s only',
        path: '/v1/webhook-endpoints',
        check: (body: unknown) => expect(idsOf(body)).toEqual([ids.epA]),
      },
    ].map((probe): Probe => ({ ...probe, method: 'get', status: 200 }));
    const refusedWrites: Probe[] = [
      ...[
        {},
        { filter: null },
        { filter: { statuses: ['failed'] } },
        { filter: { project_ids: ['proj-b'] } },
        { filter: { project_ids: ['proj-a', 'proj-b'] } },
      ].map((body): Probe => ({
        name: `create an endpoint ${JSON.stringify(body)}`,
        method: 'post',
        path: '/v1/webhook-endpoints',
        body: { url: receiver.url('/mine'), ...body },
        status: 400,
        check: (answer) => expect(JSON.stringify(answer)).toContain('filter.project_ids'),
      })),
      ...[
        { filter: null },
        { filter: { statuses: ['failed'] } },
        { filter: { project_ids: ['proj-b'] } },
      ].map((body): Probe => ({
        name: `patch A’s endpoint ${JSON.stringify(body)}`,
        method: 'patch',
        path: `/v1/webhook-endpoints/${ids.epA}`,
        body,
        status: 400,
        check: (answer) => expect(JSON.stringify(answer)).toContain('filter.project_ids'),
      })),
      ...[{}, { project_id: null }, { project_id: 'proj-b' }].map((body): Probe => ({
        name: `create a step ${JSON.stringify(body)}`,
        method: 'post',
        path: '/v1/steps',
        body,
        status: 400,
        check: (answer) => expect(JSON.stringify(answer)).toContain('project_id'),
      })),
      {
        name: 'recover B’s endpoint',
        method: 'post',
        path: '/v1/webhook-deliveries/recover',
        body: { since, endpoint_id: ids.epB },
        status: 202,
        check: (answer) => expect(answer).toEqual({ requeued: 0 }),
      },
    ];
    const aWorks: Probe[] = [
      { name: 'get A’s step', method: 'get', path: `/v1/steps/${ids.a1}`, status: 200 },
      {
        name: 'list: A’s steps only',
        method: 'get',
        path: '/v1/steps',
        status: 200,
        check: (body) => expect(new Set(idsOf(body))).toEqual(new Set([ids.a1, ids.a2])),
      },
      {
        name: 'page A’s steps past the hidden ones',
        method: 'get',
        path: `/v1/steps?order=asc&after=${ids.a1}`,
        status: 200,
        check: (body) => expect(idsOf(body)).toEqual(afterA1),
      },
      { name: 'A’s run', method: 'get', path: '/v1/runs/run-a/steps', status: 200 },
      { name: 'cancel A’s step', method: 'post', path: `/v1/steps/${ids.a2}/cancel`, status: 200 },
      {
        name: 'feedback on A’s step',
        method: 'patch',
        path: `/v1/steps/${ids.a1}/feedback`,
        body: { feedback: 'positive' },
        status: 200,
      },
      {
        name: 'A’s metrics',
        method: 'put',
        path: `/v1/steps/${ids.a1}/metrics`,
        body: { step_ns: '2000' },
        status: 200,
      },
      { name: 'read A’s metrics', method: 'get', path: `/v1/steps/${ids.a1}/metrics`, status: 200 },
      {
        name: 'A’s step deliveries',
        method: 'get',
        path: `/v1/steps/${ids.a1}/deliveries`,
        status: 200,
        check: (body) => expect(body).toHaveLength(3),
      },
      {
        name: 'A’s delivery',
        method: 'get',
        path: `/v1/webhook-deliveries/${ids.aDeliveries[0]}`,
        status: 200,
      },
      {
        name: 'retry A’s delivery',
        method: 'post',
        path: `/v1/webhook-deliveries/${ids.aDeliveries[0]}/retry`,
        status: 202,
      },
      {
        name: 'A’s endpoint',
        method: 'get',
        path: `/v1/webhook-endpoints/${ids.epA}`,
        status: 200,
      },
      {
        name: 'A’s endpoint stats',
        method: 'get',
        path: `/v1/webhook-endpoints/${ids.epA}/stats`,
        status: 200,
      },
      {
        name: 'A’s endpoint secret',
        method: 'get',
        path: `/v1/webhook-endpoints/${ids.epA}/secret`,
        status: 200,
      },
      {
        name: 'rotate A’s secret',
        method: 'post',
        path: `/v1/webhook-endpoints/${ids.epA}/secret/rotate`,
        status: 200,
      },
      {
        name: 'patch A’s endpoint',
        method: 'patch',
        path: `/v1/webhook-endpoints/${ids.epA}`,
        body: { description: 'mine', filter: { project_ids: ['proj-a'], statuses: ['success'] } },
        status: 200,
      },
      {
        name: 'create a step of A',
        method: 'post',
        path: '/v1/steps',
        body: { project_id: 'proj-a' },
        status: 201,
        check: (body) => {
          ids.aNew = (body as { id: string }).id;
        },
      },
    ];
    return [
      ...stepAttacks,
      ...deliveryAttacks,
      ...endpointAttacks,
      ...filters,
      ...refusedWrites,
      ...aWorks,
    ];
  }

  it('answers every probe of B as if B did not exist, and every request of A', async () => {
    const table = probes();
    process.stdout.write(`project isolation: ${table.length} probes by the key bound to A\n`);
    const failures: string[] = [];
    for (const probe of table) {
      const label = `${probe.name}: ${probe.method.toUpperCase()} ${probe.path}`;
      const answer = await call(keyA, probe.method, probe.path, probe.body);
      const text = JSON.stringify(answer.body ?? null);
      try {
        expect(answer.status).toBe(probe.status);
        if (probe.hidden) {
          const { id, nowhere } = probe.hidden;
          const swap = (value: string) => value.replaceAll(id, nowhere);
          const asNowhere = await call(
            keyA,
            probe.method,
            swap(probe.path),
            probe.body && (JSON.parse(swap(JSON.stringify(probe.body))) as object),
          );
          expect(answer.status).toBe(asNowhere.status);
          expect(swap(text)).toBe(JSON.stringify(asNowhere.body ?? null));
        } else if (answer.status < 300) {
          for (const secret of ofB()) expect(text).not.toContain(secret);
        }
        probe.check?.(answer.body);
      } catch (error) {
        failures.push(`${label} → ${answer.status} ${text.slice(0, 300)}\n  ${String(error)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('left every row of B as it was', async () => {
    for (const id of [ids.b2, ids.bNone])
      expect(await admin('get', `/v1/steps/${id}`)).toMatchObject({
        status: 'pending',
        feedback: null,
      });
    expect(await admin('get', `/v1/steps/${ids.b1}`)).toMatchObject({
      status: 'success',
      feedback: null,
    });
    expect(await admin('get', `/v1/steps/${ids.b1}/metrics`)).toMatchObject({ step_ns: '1000' });
    for (const id of ids.bDeliveries)
      expect(await admin('get', `/v1/webhook-deliveries/${id}`)).toMatchObject({
        status: 'failed',
        attempt_count: 1,
      });
    for (const id of [ids.epB, ids.epOpen])
      expect(await admin('get', `/v1/webhook-endpoints/${id}`)).toMatchObject({
        disabled: false,
        description: null,
      });
  });

  it('recovers A’s failed deliveries only', async () => {
    const before = receiver.requests.length;
    const ofA = [ids.a1, ids.a2, ids.aNew];
    const failedOfA = (
      await admin<Json[]>('get', `/v1/webhook-deliveries?status=failed&limit=1000`)
    ).filter((row) => ofA.includes(row.step_id as string)).length;
    // a1's three and a2's three (cancelled by A's key above).
    expect(failedOfA).toBe(6);
    const answer = await call(keyA, 'post', '/v1/webhook-deliveries/recover', { since });
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ requeued: failedOfA });
    await receiver.waitForRequests(before + failedOfA);
    const sent = receiver.requests
      .slice(before)
      .map((hook) => (JSON.parse(hook.rawBody.toString()) as { step_id: string }).step_id);
    expect(new Set(sent)).toEqual(new Set([ids.a1, ids.a2]));
    for (const id of ids.bDeliveries)
      expect(await admin('get', `/v1/webhook-deliveries/${id}`)).toMatchObject({
        status: 'failed',
        attempt_count: 1,
      });
  });

  it('changes nothing for API_KEY and an unbound key: both see both projects', async () => {
    const unbound = `Bearer ${
      (
        await admin(
          'post',
          '/v1/api-keys',
          { name: 'everything', scopes: SCOPES.filter((scope) => scope !== 'admin') },
          201,
        )
      ).key as string
    }`;
    for (const authorization of [ADMIN, unbound]) {
      const listed = await call(authorization, 'get', '/v1/steps?limit=1000');
      expect(new Set(idsOf(listed.body))).toEqual(
        new Set([ids.a1, ids.a2, ids.aNew, ids.b1, ids.b2, ids.bNone]),
      );
      await call(authorization, 'get', `/v1/steps/${ids.b1}`).expect(200);
      await call(authorization, 'get', `/v1/webhook-endpoints/${ids.epB}`).expect(200);
      await call(authorization, 'get', `/v1/webhook-deliveries/${ids.bDeliveries[0]}`).expect(200);
      const summary = await call(authorization, 'get', '/v1/webhook-deliveries/summary');
      expect(summary.body).toMatchObject({ receiver_url: receiver.url() });
    }
  });
});
