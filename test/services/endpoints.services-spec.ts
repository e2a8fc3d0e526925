import type { ReceivedRequest } from '../helpers/webhook-receiver.js';
import { recordFigures } from './figures.js';
import { Api, eventually, inParallel, useProcessBed } from './services.js';

/**
 * Endpoints (SPEC §9) across processes sharing PostgreSQL and a BullMQ queue: a change made through
 * one API applies to another's transitions within a second, and fan-out to several endpoints
 * delivers each matching step exactly once whichever worker takes it.
 */
const REDIS_DB = 14;

async function call(
  baseUrl: string,
  method: string,
  path: string,
  body: object = {},
): Promise<Response> {
  return fetch(`${baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function json<T>(response: Response, status: number): Promise<T> {
  if (response.status !== status) {
    throw new Error(`expected HTTP ${status}, got ${response.status}: ${await response.text()}`);
  }
  return (await response.json()) as T;
}

const stepIdOf = (request: ReceivedRequest) =>
  (JSON.parse(request.rawBody.toString('utf8')) as { step_id: string }).step_id;

describe('Endpoints across processes: PostgreSQL + BullMQ (services)', () => {
  const bed = useProcessBed(REDIS_DB, ({ db, redisUrl }) => ({
    DATABASE_URL: db.url,
    REDIS_URL: redisUrl,
    // Only API endpoints here; the receiver is on loopback, which they may reach only when allowed.
    STEP_COMPLETE_WEBHOOK: '',
    STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8',
    STEP_COMPLETE_TIMEOUT_MS: '15000',
    STEP_COMPLETE_CONCURRENCY: '16',
  }));
  const { startApi, startWorker } = bed;

  async function completeStep(
    api: Api,
    fields: { agent_id: string; tags?: string[] },
    status: 'success' | 'cancel',
  ): Promise<string> {
    const step = await json<{ id: string }>(
      await call(api.baseUrl, 'POST', '/v1/steps', fields),
      201,
    );
    await json(await call(api.baseUrl, 'POST', `/v1/steps/${step.id}/${status}`), 200);
    return step.id;
  }

  async function endpointsOfStep(stepId: string): Promise<string[]> {
    const rows = await bed.db.query<{ endpoint_id: string }>(
      'SELECT endpoint_id FROM webhook_deliveries WHERE step_id = $1',
      [stepId],
    );
    return rows.map((row) => row.endpoint_id);
  }

  it("an endpoint created through API A is used by API B's transitions within a second", async () => {
    const [apiA, apiB] = await Promise.all([startApi(), startApi(), startWorker()]);
    const created = await json<{ id: string }>(
      await call(apiA.baseUrl, 'POST', '/v1/webhook-endpoints', { url: bed.receiver.url('/late') }),
      201,
    );
    const createdAt = Date.now();
    // Transitions on B, one after another, until one of them fans out to the new endpoint.
    let firstMatchAfterMs: number | null = null;
    while (firstMatchAfterMs === null && Date.now() - createdAt < 5_000) {
      const committedAt = Date.now();
      const stepId = await completeStep(apiB, { agent_id: 'b' }, 'success');
      if ((await endpointsOfStep(stepId)).includes(created.id))
        firstMatchAfterMs = committedAt - createdAt;
    }
    expect(firstMatchAfterMs).not.toBeNull();
    expect(firstMatchAfterMs!).toBeLessThanOrEqual(1_000);

    // Disabling through A: B's transitions write held deliveries within a second too.
    await json(
      await call(apiA.baseUrl, 'PATCH', `/v1/webhook-endpoints/${created.id}`, { disabled: true }),
      200,
    );
    const disabledAt = Date.now();
    let firstHeldAfterMs: number | null = null;
    while (firstHeldAfterMs === null && Date.now() - disabledAt < 5_000) {
      const committedAt = Date.now();
      const stepId = await completeStep(apiB, { agent_id: 'b' }, 'success');
      const [row] = await bed.db.query<{ status: string }>(
        'SELECT status FROM webhook_deliveries WHERE step_id = $1 AND endpoint_id = $2',
        [stepId, created.id],
      );
      if (row.status === 'held') firstHeldAfterMs = committedAt - disabledAt;
    }
    expect(firstHeldAfterMs).not.toBeNull();
    expect(firstHeldAfterMs!).toBeLessThanOrEqual(1_000);
    recordFigures('endpoint-change-across-apis', {
      created_seen_after_ms: firstMatchAfterMs!,
      disabled_seen_after_ms: firstHeldAfterMs!,
    });
  }, 60_000);

  it('2 APIs, 2 workers, 3 endpoints, 3,000 transitions: every matching delivery exactly once', async () => {
    const [apiA, apiB] = await Promise.all([startApi(), startApi(), startWorker(), startWorker()]);
    const create = async (body: object) =>
      json<{ id: string }>(await call(apiA.baseUrl, 'POST', '/v1/webhook-endpoints', body), 201);
    await create({ url: bed.receiver.url('/all') });
    await create({ url: bed.receiver.url('/success'), filter: { statuses: ['success'] } });
    await create({
      url: bed.receiver.url('/agent-b-prod'),
      filter: { agent_ids: ['b'], tags: ['prod'] },
    });
    // SPEC §9: a change applies to transitions committed after it in every process within a
    // second (the first test measures it); API B may not have seen these before then.
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const expected = { all: [] as string[], success: [] as string[], agentBProd: [] as string[] };
    const transitions = Array.from({ length: 3_000 }, (_, index) => index);
    await inParallel(transitions, 32, async (index) => {
      const agent = index % 3 === 0 ? 'b' : 'a';
      const tags = index % 2 === 0 ? ['prod'] : [];
      const status = index % 4 === 0 ? 'cancel' : 'success';
      const stepId = await completeStep([apiA, apiB][index % 2], { agent_id: agent, tags }, status);
      expected.all.push(stepId);
      if (status === 'success') expected.success.push(stepId);
      if (agent === 'b' && tags.includes('prod')) expected.agentBProd.push(stepId);
    });
    const total = expected.all.length + expected.success.length + expected.agentBProd.length;
    await bed.receiver.waitUntil(
      (requests) => requests.length >= total,
      `${total} webhooks (every matching delivery)`,
      240_000,
    );
    await eventually(async () => {
      const [row] = await bed.db.query<{ n: string }>(
        "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'delivered'",
      );
      return Number(row.n) === total;
    }, 'every delivery is recorded as delivered');

    const sorted = (ids: string[]) => [...ids].sort();
    const receivedAt = (path: string) => sorted(bed.receiver.requestsTo(path).map(stepIdOf));
    expect(receivedAt('/all')).toEqual(sorted(expected.all));
    expect(receivedAt('/success')).toEqual(sorted(expected.success));
    expect(receivedAt('/agent-b-prod')).toEqual(sorted(expected.agentBProd));
    expect(bed.receiver.requests).toHaveLength(total);
    const webhookIds = new Set(
      bed.receiver.requests.map((request) => request.headers['webhook-id']),
    );
    expect(webhookIds.size).toBe(total);
  }, 300_000);
});
