import { freePort, ServerProcess } from '../helpers/server-process.js';
import { ensureBuilt } from '../helpers/server-process.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import type { ReceivedRequest } from '../helpers/webhook-receiver.js';
import { recordFigures } from './figures.js';
import { Api, eventually, freshPostgres, inParallel, TestDatabase } from './services.js';

/**
 * Keys across processes (SPEC §10): two API processes on one PostgreSQL database (no Redis: each
 * delivers from the database), real built processes, a real receiver. A key revoked through one
 * process is refused by the other within a second; keys created and revoked while both take steps
 * calls lose, duplicate or break nothing.
 */
const API_KEY = 'services-admin-key-0123456789';
const ADMIN = { authorization: `Bearer ${API_KEY}` };
/** SPEC §10: every process refuses a revoked key within this. */
const REVOCATION_DEADLINE_MS = 1_000;

async function send(
  api: Api,
  method: string,
  path: string,
  key: string | null,
  body?: object,
): Promise<Response> {
  return fetch(`${api.baseUrl}${path}`, {
    method,
    headers: {
      ...(key === null ? ADMIN : { authorization: `Bearer ${key}` }),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
}

async function createKey(api: Api, scopes: string[]): Promise<{ id: string; key: string }> {
  const response = await send(api, 'POST', '/v1/api-keys', null, { name: 'services', scopes });
  if (response.status !== 201) throw new Error(`create key: HTTP ${response.status}`);
  return (await response.json()) as { id: string; key: string };
}

const stepIdOf = (request: ReceivedRequest) =>
  (JSON.parse(request.rawBody.toString('utf8')) as { step_id: string }).step_id;

describe('API keys across processes: PostgreSQL, two API processes (services)', () => {
  let db: TestDatabase;
  let receiver: WebhookReceiver;
  const processes: ServerProcess[] = [];

  beforeAll(() => ensureBuilt());
  beforeEach(async () => {
    db = await freshPostgres();
    receiver = (await WebhookReceiver.start()).replyWith({ status: 204 });
  });
  afterEach(async () => {
    for (const process of processes.splice(0)) {
      if (process.child.exitCode === null && process.signal === null) process.kill('SIGKILL');
      await process.exited;
    }
    await receiver.close();
    await db.drop();
  });

  async function startApi(): Promise<Api> {
    const api = await ServerProcess.start({
      DATABASE_URL: db.url,
      API_KEY,
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_TIMEOUT_MS: '2000',
    });
    processes.push(api);
    return api;
  }

  /** Polls `path` on `api` with `key` until it answers `status`; resolves with the ms it took. */
  async function until(api: Api, key: string, status: number, deadlineMs: number) {
    const start = performance.now();
    for (;;) {
      const answer = await send(api, 'GET', '/v1/steps?limit=1', key);
      const elapsed = performance.now() - start;
      if (answer.status === status) return elapsed;
      if (elapsed > deadlineMs) {
        throw new Error(
          `timed out after ${deadlineMs} ms waiting for ${status} (last ${answer.status})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('a key revoked through one process is refused by the other within a second', async () => {
    const [a, b] = await Promise.all([startApi(), startApi()]);
    const refusedAfter: number[] = [];
    for (let round = 0; round < 10; round++) {
      // Alternate which process revokes.
      const [through, other] = round % 2 === 0 ? [a, b] : [b, a];
      const { id, key } = await createKey(through, ['steps:read']);
      // A key created in one process is usable there at once, and in the other within a second.
      expect((await send(through, 'GET', '/v1/steps?limit=1', key)).status).toBe(200);
      await until(other, key, 200, REVOCATION_DEADLINE_MS);
      const revoked = await send(through, 'DELETE', `/v1/api-keys/${id}`, null);
      expect(revoked.status).toBe(204);
      expect((await send(through, 'GET', '/v1/steps?limit=1', key)).status).toBe(401);
      // Measured from the DELETE's answer.
      refusedAfter.push(await until(other, key, 401, REVOCATION_DEADLINE_MS));
    }
    const sorted = [...refusedAfter].sort((x, y) => x - y);
    const figures = {
      revoked_refused_elsewhere_max_ms: Math.round(sorted.at(-1)!),
      revoked_refused_elsewhere_median_ms: Math.round(sorted[Math.floor(sorted.length / 2)]),
    };
    recordFigures('api-keys-revocation', figures);
    process.stdout.write(
      `API key revocation seen by the other process: ${JSON.stringify(figures)}\n`,
    );
  });

  it('while both processes take steps calls with keys, keys come and go: nothing lost, nothing twice, no answer ≥ 500', async () => {
    const [a, b] = await Promise.all([startApi(), startApi()]);
    const apis = [a, b];
    const stable = await Promise.all(
      Array.from({ length: 4 }, (_, i) => createKey(apis[i % 2], ['steps:write'])),
    );
    await Promise.all(stable.map(({ key }) => until(a, key, 403, 2_000)));
    await Promise.all(stable.map(({ key }) => until(b, key, 403, 2_000)));
    const statuses = new Map<number, number>();
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
    const completed = new Set<string>();
    const notCompleted = new Set<string>();

    /** Creates and completes one step with `key`, through `create` then `complete`. */
    async function stepWith(key: string, create: Api, complete: Api): Promise<boolean> {
      const created = await send(create, 'POST', '/v1/steps', key, { agent_id: 'keys' });
      count(created.status);
      if (created.status !== 201) return false;
      const { id } = (await created.json()) as { id: string };
      const done = await send(complete, 'POST', `/v1/steps/${id}/success`, key, {});
      count(done.status);
      if (done.status === 200) completed.add(id);
      else notCompleted.add(id);
      return done.status === 200;
    }

    let churning = true;
    const churned = { created: 0, revoked: 0, refused: 0 };
    const churn = (async () => {
      for (let round = 0; churning; round++) {
        const [through, other] = round % 2 === 0 ? [a, b] : [b, a];
        const { id, key } = await createKey(through, ['steps:write']);
        churned.created += 1;
        // A new key reaches the other process's ring within its refresh: wait for both to know it.
        await until(through, key, 403, 2_000);
        await until(other, key, 403, 2_000);
        // Used through both processes before its revocation, and while it is revoked.
        for (let i = 0; i < 2; i++) await stepWith(key, apis[i], apis[1 - i]);
        const uses = Array.from({ length: 4 }, (_, i) =>
          stepWith(key, apis[i % 2], apis[(i + 1) % 2]),
        );
        const revoked = await send(other, 'DELETE', `/v1/api-keys/${id}`, null);
        count(revoked.status);
        churned.revoked += 1;
        await Promise.all(uses);
        // Once revoked, refused by both processes within a second.
        await until(through, key, 401, REVOCATION_DEADLINE_MS);
        await until(other, key, 401, REVOCATION_DEADLINE_MS);
        churned.refused += 1;
      }
    })();

    const steps = 400;
    let stableCompleted = 0;
    await inParallel(
      Array.from({ length: steps }, (_, i) => i),
      8,
      async (i) => {
        const { key } = stable[i % stable.length];
        if (await stepWith(key, apis[i % 2], apis[(i + 1) % 2])) stableCompleted += 1;
      },
    );
    churning = false;
    await churn;

    // Every call with a key that was never revoked succeeded; keys on their way out completed some.
    expect(stableCompleted).toBe(steps);
    expect(completed.size).toBeGreaterThan(steps);
    // Nothing ≥ 500; only 200/201/204, and 401 for a key already revoked.
    const shown = Object.fromEntries(statuses);
    expect(Object.keys(shown).filter((status) => Number(status) >= 500)).toEqual([]);
    expect(Object.keys(shown).every((s) => ['200', '201', '204', '401'].includes(s))).toBe(true);
    // Every step completed is received, once; none left pending is received at all.
    await receiver.waitForRequests(completed.size, 60_000);
    await eventually(
      async () => {
        const rows = await db.query<{ n: string }>(
          "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending'",
        );
        return Number(rows[0].n) === 0;
      },
      'no delivery left pending',
      30_000,
    );
    const received = receiver.requests.filter((request) => request.answeredWith === 204);
    const perStep = new Map<string, number>();
    for (const request of received)
      perStep.set(stepIdOf(request), (perStep.get(stepIdOf(request)) ?? 0) + 1);
    const lost = [...completed].filter((id) => !perStep.has(id));
    const twice = [...perStep].filter(([, n]) => n > 1);
    const unexpected = [...perStep.keys()].filter((id) => !completed.has(id));
    const figures = {
      steps_completed: completed.size,
      steps_left_pending_by_a_revoked_key: notCompleted.size,
      keys_created_and_revoked: churned.revoked,
      received: received.length,
      lost: lost.length,
      twice: twice.length,
      unexpected: unexpected.length,
      answers_5xx: Object.entries(shown)
        .filter(([status]) => Number(status) >= 500)
        .reduce((sum, [, n]) => sum + n, 0),
    };
    recordFigures('api-keys-churn', figures);
    process.stdout.write(
      `API keys under churn: ${JSON.stringify({ ...figures, statuses: shown })}\n`,
    );
    expect({ lost, twice, unexpected }).toEqual({ lost: [], twice: [], unexpected: [] });
    expect(churned.refused).toBe(churned.created);
    expect(churned.created).toBeGreaterThan(3);
  }, 240_000);

  it("a worker's /metrics takes keys too: metrics:read answers, another scope is a 403, a revoked key a 401 within a second", async () => {
    const api = await startApi();
    const metricsPort = await freePort();
    const worker = await ServerProcess.startWorker({
      DATABASE_URL: db.url,
      API_KEY,
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      METRICS_PORT: String(metricsPort),
    });
    processes.push(worker);
    await worker.waitFor((line) => line.message.includes(' · metrics on http://'));
    const metrics = (key: string) =>
      fetch(`http://127.0.0.1:${metricsPort}/metrics`, {
        headers: { authorization: `Bearer ${key}` },
      });
    const scraper = await createKey(api, ['metrics:read']);
    const reader = await createKey(api, ['steps:read']);
    await eventually(
      async () => (await metrics(scraper.key)).status === 200,
      'the worker to accept a metrics:read key made through the API',
      REVOCATION_DEADLINE_MS * 2,
    );
    const refused = await metrics(reader.key);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({
      statusCode: 403,
      message: 'This key lacks the scope metrics:read',
      error: 'Forbidden',
    });
    expect((await metrics(API_KEY)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(401);
    expect((await send(api, 'DELETE', `/v1/api-keys/${scraper.id}`, null)).status).toBe(204);
    const start = performance.now();
    for (;;) {
      const status = (await metrics(scraper.key)).status;
      if (status === 401) break;
      if (performance.now() - start > REVOCATION_DEADLINE_MS) {
        throw new Error(
          `timed out after ${REVOCATION_DEADLINE_MS} ms waiting for the worker's 401`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
});
