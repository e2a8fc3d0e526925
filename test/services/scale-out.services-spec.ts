import { Redis } from 'ioredis';
import { freePort } from '../helpers/server-process.js';
import type { ServerProcess } from '../helpers/server-process.js';
import type { ReceivedRequest } from '../helpers/webhook-receiver.js';
import { recordFigures } from './figures.js';
import {
  Api,
  eventually,
  freshRedis,
  inParallel,
  TestDatabase,
  useProcessBed,
} from './services.js';

/**
 * Many processes on one PostgreSQL database and one BullMQ queue, as docs/scaling-out.md runs
 * them: real built processes, a real receiver, real services.
 */
const REDIS_DB = 11;

const WORKER_CONCURRENCY = 16;

async function post(baseUrl: string, path: string, body: object = {}): Promise<Response> {
  return fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function createStep(api: Api): Promise<string> {
  const response = await post(api.baseUrl, '/v1/steps', { agent_id: 'scale-out' });
  if (response.status !== 201) throw new Error(`create: HTTP ${response.status}`);
  return ((await response.json()) as { id: string }).id;
}

/** Jobs waiting on the delivery queue (BullMQ keeps waiting job ids in a list). */
async function queuedJobs(redisUrl: string): Promise<number> {
  const redis = new Redis(redisUrl);
  try {
    return await redis.llen('stephook:stephook-deliveries:wait');
  } finally {
    redis.disconnect();
  }
}

const stepIdOf = (request: ReceivedRequest) =>
  (JSON.parse(request.rawBody.toString('utf8')) as { step_id: string }).step_id;
const distinctSteps = (requests: ReceivedRequest[]) => new Set(requests.map(stepIdOf)).size;

async function deliveryStates(db: TestDatabase): Promise<Record<string, number>> {
  const rows = await db.query<{ status: string; n: string }>(
    'SELECT status, COUNT(*) AS n FROM webhook_deliveries GROUP BY status',
  );
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
}

describe('Scale-out: PostgreSQL + BullMQ, several processes (services)', () => {
  const bed = useProcessBed(REDIS_DB, ({ db, redisUrl, receiver }) => ({
    DATABASE_URL: db.url,
    REDIS_URL: redisUrl,
    STEP_COMPLETE_WEBHOOK: receiver.url(),
    STEP_COMPLETE_TIMEOUT_MS: '2000',
    STEP_COMPLETE_CONCURRENCY: String(WORKER_CONCURRENCY),
  }));
  const { startApi, startWorker } = bed;
  const deliveredBy = (worker: ServerProcess) =>
    worker.lines.filter(
      (line) => line.context === 'DeliveryDispatcher' && line.outcome === 'success',
    ).length;

  it('two APIs and two workers: 5,000 steps, every webhook received once', async () => {
    // The receiver shares the test process with 32 clients creating and completing steps, so on
    // 2 busy cores it can take over 2 s to answer; an attempt that times out is rightly sent again
    // (at least once), which is not what this test is about. The deadline here leaves room for it.
    const roomy = { STEP_COMPLETE_TIMEOUT_MS: '15000' };
    const [apiA, apiB, workerA, workerB] = await Promise.all([
      startApi(roomy),
      startApi(roomy),
      startWorker(roomy),
      startWorker(roomy),
    ]);
    const apis = [apiA, apiB];
    const steps = Array.from({ length: 5_000 }, (_, index) => index);

    await inParallel(steps, 32, async (index) => {
      const api = apis[index % 2];
      const stepId = await createStep(api);
      const response = await post(api.baseUrl, `/v1/steps/${stepId}/success`);
      expect(response.status).toBe(200);
    });
    await bed.receiver.waitUntil(
      (requests) => distinctSteps(requests) >= steps.length,
      'a webhook for every step',
      180_000,
    );
    await eventually(
      async () => (await deliveryStates(bed.db)).delivered === steps.length,
      'every delivery is recorded as delivered',
    );

    const webhookIds = new Set(
      bed.receiver.requests.map((request) => request.headers['webhook-id']),
    );
    expect(distinctSteps(bed.receiver.requests)).toBe(5_000); // 0 lost
    // 0 duplicates; an attempt that failed (a timeout under load) would explain one, so say which.
    const failedAttempts = [workerA, workerB].flatMap((worker) =>
      worker.lines
        .filter((line) => line.context === 'DeliveryDispatcher' && line.outcome !== undefined)
        .filter((line) => line.outcome !== 'success')
        .map((line) => `${String(line.outcome)} ${String(line.delivery_id)}: ${line.message}`),
    );
    expect({ requests: bed.receiver.requests.length, failedAttempts }).toEqual({
      requests: 5_000,
      failedAttempts: [],
    });
    expect(webhookIds.size).toBe(5_000);
    expect(await deliveryStates(bed.db)).toEqual({ delivered: 5_000 });
    // Both workers took their share of the queue.
    expect(deliveredBy(workerA)).toBeGreaterThan(0);
    expect(deliveredBy(workerB)).toBeGreaterThan(0);
    expect(deliveredBy(workerA) + deliveredBy(workerB)).toBe(5_000);
  }, 240_000);

  it('SIGKILL of one worker mid-run: nothing lost; duplicates only from its attempts in flight', async () => {
    // A receiver that takes 25 ms an answer keeps each worker's 16 slots busy.
    bed.receiver.replyWith({ status: 204, delayMs: 25 });
    const [api, doomed] = await Promise.all([startApi(), startWorker(), startWorker()]);
    const steps = 1_500;

    await inParallel(Array.from({ length: steps }), 32, async () => {
      const stepId = await createStep(api);
      expect((await post(api.baseUrl, `/v1/steps/${stepId}/success`)).status).toBe(200);
    });
    await bed.receiver.waitForRequests(300);
    doomed.kill('SIGKILL');
    const killedAt = Date.now();
    await doomed.exited;
    await bed.receiver.waitUntil(
      (requests) => distinctSteps(requests) >= steps,
      'a webhook for every step after the SIGKILL',
      120_000,
    );
    const recoveredMs = Date.now() - killedAt;
    await eventually(
      async () => (await deliveryStates(bed.db)).delivered === steps,
      'every delivery is recorded as delivered',
      90_000,
    );

    const duplicates = bed.receiver.requests.length - distinctSteps(bed.receiver.requests);
    expect(distinctSteps(bed.receiver.requests)).toBe(steps); // 0 lost
    expect(duplicates).toBeLessThanOrEqual(WORKER_CONCURRENCY);
    expect(await deliveryStates(bed.db)).toEqual({ delivered: steps });
    recordFigures('sigkill-worker', { steps, duplicates, recovered_ms: recoveredMs });
  }, 240_000);

  it('jobs that went missing (Redis emptied after the commits) are swept back onto the queue', async () => {
    const api = await startApi();
    const stepIds = await Promise.all(Array.from({ length: 50 }, () => createStep(api)));
    for (const stepId of stepIds) {
      expect((await post(api.baseUrl, `/v1/steps/${stepId}/success`)).status).toBe(200);
    }
    await eventually(
      async () => (await queuedJobs(bed.redisUrl)) === stepIds.length,
      'every delivery has its job on the queue',
    );
    // As if the API had died between each commit and its enqueue, or Redis had restarted empty.
    await freshRedis(REDIS_DB);

    await startWorker();
    await bed.receiver.waitUntil(
      (requests) => distinctSteps(requests) >= stepIds.length,
      'a webhook for every step',
      60_000,
    );
    await eventually(
      async () => (await deliveryStates(bed.db)).delivered === stepIds.length,
      'every delivery is recorded as delivered',
    );

    expect(bed.receiver.requests).toHaveLength(stepIds.length);
  }, 90_000);

  it('SIGTERM: a worker finishes its attempt in flight and exits 0; an API process exits 0', async () => {
    bed.receiver.replyWith({ hold: true });
    const [api, worker] = await Promise.all([startApi(), startWorker()]);
    const stepId = await createStep(api);
    expect((await post(api.baseUrl, `/v1/steps/${stepId}/success`)).status).toBe(200);
    await bed.receiver.waitForRequests(1);

    worker.kill('SIGTERM');
    await worker.waitFor((line) => line.message.startsWith('SIGTERM received'));
    bed.receiver.release(204);
    api.kill('SIGTERM');

    expect(await worker.exited).toBe(0);
    expect(await api.exited).toBe(0);
    expect(await deliveryStates(bed.db)).toEqual({ delivered: 1 });
    expect(bed.receiver.requests).toHaveLength(1);
  });

  it('a worker serves /metrics on METRICS_PORT behind API_KEY, counting its own attempts; /health and /ready answer', async () => {
    const key = 'worker-scrape-key';
    const metricsPort = await freePort();
    const [api, worker] = await Promise.all([
      startApi({ API_KEY: key }),
      startWorker({ API_KEY: key, METRICS_PORT: String(metricsPort) }),
    ]);
    await worker.waitFor((line) => line.message.includes(' · metrics on http://'));
    const workerUrl = `http://127.0.0.1:${metricsPort}`;
    const auth = { authorization: `Bearer ${key}` };
    const stepIds = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const response = await fetch(`${api.baseUrl}/v1/steps`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ agent_id: 'scraped' }),
        });
        return ((await response.json()) as { id: string }).id;
      }),
    );
    for (const stepId of stepIds) {
      const done = await fetch(`${api.baseUrl}/v1/steps/${stepId}/success`, {
        method: 'POST',
        headers: auth,
      });
      expect(done.status).toBe(200);
    }
    await bed.receiver.waitForRequests(5);

    expect((await fetch(`${workerUrl}/metrics`)).status).toBe(401);
    const success = /^stephook_delivery_attempts_total\{endpoint="env",outcome="success"\} (\d+)$/m;
    await eventually(async () => {
      const text = await (await fetch(`${workerUrl}/metrics`, { headers: auth })).text();
      return Number(success.exec(text)?.[1]) === 5;
    }, "the worker's /metrics to count its 5 successful attempts");
    // The API made none of them: its own counter stays at 0.
    const apiText = await (await fetch(`${api.baseUrl}/metrics`, { headers: auth })).text();
    expect(Number(success.exec(apiText)?.[1])).toBe(0);
    expect(await (await fetch(`${workerUrl}/health`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${workerUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ok',
      details: { database: { status: 'up' }, deliveries: { status: 'up' } },
    });
    expect((await fetch(`${workerUrl}/v1/steps`, { headers: auth })).status).toBe(404);
  });

  it('conflicting terminal calls on one step through two APIs: one winner, one webhook', async () => {
    const [apiA, apiB] = await Promise.all([startApi(), startApi(), startWorker()]);
    const stepIds = await Promise.all(Array.from({ length: 100 }, () => createStep(apiA)));

    const outcomes = await Promise.all(
      stepIds.map(async (stepId) => {
        const [success, cancel] = await Promise.all([
          post(apiA.baseUrl, `/v1/steps/${stepId}/success`),
          post(apiB.baseUrl, `/v1/steps/${stepId}/cancel`),
        ]);
        return { stepId, statuses: [success.status, cancel.status].sort() };
      }),
    );
    await bed.receiver.waitUntil(
      (requests) => distinctSteps(requests) >= stepIds.length,
      'a webhook for every step',
      60_000,
    );
    await eventually(
      async () => (await deliveryStates(bed.db)).delivered === stepIds.length,
      'every delivery is recorded as delivered',
    );

    for (const { statuses } of outcomes) expect(statuses).toEqual([200, 409]);
    const perStep = await bed.db.query<{ step_id: string; n: string }>(
      'SELECT step_id, COUNT(*) AS n FROM webhook_deliveries GROUP BY step_id',
    );
    expect(perStep).toHaveLength(100);
    expect(perStep.every((row) => Number(row.n) === 1)).toBe(true);
    expect(bed.receiver.requests).toHaveLength(100);
    // Each step's final status is the winner's, and its one webhook says so.
    const winners = await bed.db.query<{ id: string; status: string }>(
      'SELECT id, status FROM steps',
    );
    expect(winners.every((row) => row.status === 'success' || row.status === 'cancelled')).toBe(
      true,
    );
  }, 120_000);
});
