import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import type { ReceivedRequest } from '../helpers/webhook-receiver.js';
import { recordFigures } from './figures.js';
import {
  Api,
  call,
  eventually,
  json,
  ProcessBed,
  TestDatabase,
  useProcessBed,
} from './services.js';

/**
 * SPEC §9 "Nothing is stranded": endpoint changes racing transitions, counted from the receiver's
 * side. API processes deliver themselves here (no REDIS_URL): the database is the only thing they
 * share, so every race below is between processes, not inside one.
 */
const REDIS_DB = 13; // emptied by the bed; no process here is given REDIS_URL

interface Endpoint {
  id: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `loops` clients completing steps one after another (create, then success) until stopped. Every
 * answer of 500 or more is counted; a refused connection too (it would be one for a client).
 */
class StepLoad {
  readonly completed: { stepId: string; at: number }[] = [];
  serverErrors = 0;
  private running = true;
  private readonly done: Promise<void[]>;

  constructor(apis: Api[], loops: number, agentId: string) {
    this.done = Promise.all(
      Array.from({ length: loops }, async (_, loop) => {
        const api = apis[loop % apis.length];
        while (this.running) {
          try {
            const created = await call(api, 'POST', '/v1/steps', { agent_id: agentId });
            if (created.status >= 500) {
              this.serverErrors++;
              continue;
            }
            const { id } = (await created.json()) as { id: string };
            const completed = await call(api, 'POST', `/v1/steps/${id}/success`, {});
            if (completed.status >= 500) this.serverErrors++;
            else if (completed.status === 200) this.completed.push({ stepId: id, at: Date.now() });
            await completed.body?.cancel();
          } catch {
            this.serverErrors++;
          }
        }
      }),
    );
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** Webhooks received per `webhook-id`: how many ids, and how many arrived more than once. */
function countReceived(requests: readonly ReceivedRequest[]): { ids: number; twice: number } {
  const seen = new Map<string, number>();
  for (const request of requests) {
    const id = String(request.headers['webhook-id']);
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  return { ids: seen.size, twice: [...seen.values()].filter((n) => n > 1).length };
}

async function deliveryStates(db: Query, endpointId?: string): Promise<Record<string, number>> {
  const rows = await db.query<{ status: string; n: string }>(
    `SELECT status, COUNT(*) AS n FROM webhook_deliveries
      ${endpointId ? 'WHERE endpoint_id = $1' : ''} GROUP BY status`,
    endpointId ? [endpointId] : [],
  );
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
}

type Query = Pick<TestDatabase, 'query'>;

describe('Endpoint changes racing transitions: PostgreSQL, two API processes (services)', () => {
  const bed = useProcessBed(REDIS_DB, ({ db }) => ({
    DATABASE_URL: db.url,
    DELIVERY_WORKER: 'on',
    STEP_COMPLETE_WEBHOOK: '',
    STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8',
    STEP_COMPLETE_RETRY_SCHEDULE: '1s,1s,1s,1s,1s',
  }));
  const startApis = () =>
    Promise.all([bed.startApi({ DELIVERY_WORKER: 'on' }), bed.startApi({ DELIVERY_WORKER: 'on' })]);

  it('enabled through A while B completes steps, three rounds: nothing stays held, each webhook once', async () => {
    const [apiA, apiB] = await startApis();
    const figures = { rounds: 3, transitions: 0, deliveries: 0, held_2s_after_enable: 0 };
    let serverErrors = 0;
    for (let round = 0; round < 3; round++) {
      const path = `/round-${round}`;
      const endpoint = await json<Endpoint>(
        await call(apiA, 'POST', '/v1/webhook-endpoints', {
          url: bed.receiver.url(path),
          filter: { agent_ids: [`round-${round}`] },
          disabled: true,
        }),
        201,
      );
      const load = new StepLoad([apiB], 4, `round-${round}`);
      await sleep(1_500); // B has seen the endpoint (within 1 s) and writes held deliveries
      await json(
        await call(apiA, 'PATCH', `/v1/webhook-endpoints/${endpoint.id}`, { disabled: false }),
        200,
      );
      await sleep(1_000); // transitions keep racing the enable in B
      await load.stop();
      await sleep(2_000);
      const held = (await deliveryStates(bed.db, endpoint.id)).held ?? 0;
      figures.held_2s_after_enable += held;
      serverErrors += load.serverErrors;
      figures.transitions += load.completed.length;

      const expected = await bed.db.query<{ id: string }>(
        'SELECT id FROM webhook_deliveries WHERE endpoint_id = $1',
        [endpoint.id],
      );
      figures.deliveries += expected.length;
      await bed.receiver
        .waitUntil(
          (requests) =>
            countReceived(requests.filter((r) => r.path === path)).ids >= expected.length,
          `${expected.length} webhooks at ${path}`,
          30_000,
        )
        .catch(() => undefined); // counted below: what did not arrive is reported, not hidden
      const received = countReceived(bed.receiver.requestsTo(path));
      recordFigures(`endpoint-enable-race-round-${round}`, {
        transitions: load.completed.length,
        deliveries: expected.length,
        held_2s_after_enable: held,
        received: received.ids,
        received_twice: received.twice,
        answers_500_or_more: load.serverErrors,
      });
      expect({ round, held, twice: received.twice, received: received.ids }).toEqual({
        round,
        held: 0,
        twice: 0,
        received: expected.length,
      });
      // Steps committed a second after the endpoint existed all have a delivery for it.
      expect(expected.length).toBeGreaterThan(0);
    }
    expect(serverErrors).toBe(0);
    recordFigures('endpoint-enable-race', { ...figures, answers_500_or_more: serverErrors });
  }, 180_000);

  it('deleted through A while B completes steps: every delivery of it ends failed, none held', async () => {
    const [apiA, apiB] = await startApis();
    const endpoint = await json<Endpoint>(
      await call(apiA, 'POST', '/v1/webhook-endpoints', {
        url: bed.receiver.url('/deleted'),
        disabled: true,
      }),
      201,
    );
    const load = new StepLoad([apiB], 4, 'deleted');
    await sleep(1_500);
    expect((await call(apiA, 'DELETE', `/v1/webhook-endpoints/${endpoint.id}`)).status).toBe(204);
    await sleep(1_000);
    await load.stop();
    await sleep(2_000);
    const states = await deliveryStates(bed.db, endpoint.id);
    recordFigures('endpoint-delete-race', {
      transitions: load.completed.length,
      deliveries: Object.values(states).reduce((a, b) => a + b, 0),
      held_2s_after_delete: states.held ?? 0,
      pending_2s_after_delete: states.pending ?? 0,
      answers_500_or_more: load.serverErrors,
    });
    expect(states.failed).toBeGreaterThan(0);
    expect(states).toEqual({ failed: states.failed });
    expect(bed.receiver.requestsTo('/deleted')).toHaveLength(0);
    expect(load.serverErrors).toBe(0);
  }, 120_000);

  it('rotated three times at once through both APIs: every secret handed out signs the next webhook', async () => {
    const [apiA, apiB] = await startApis();
    const endpoint = await json<Endpoint>(
      await call(apiA, 'POST', '/v1/webhook-endpoints', { url: bed.receiver.url('/rotated') }),
      201,
    );
    const rotations = await Promise.all(
      [apiA, apiB, apiA].map(async (api) =>
        json<{ secret: string }>(
          await call(api, 'POST', `/v1/webhook-endpoints/${endpoint.id}/secret/rotate`),
          200,
        ),
      ),
    );
    await sleep(1_100); // SPEC §9: a change reaches every process within a second
    const step = await json<{ id: string }>(await call(apiA, 'POST', '/v1/steps', {}), 201);
    await json(await call(apiA, 'POST', `/v1/steps/${step.id}/success`, {}), 200);
    await bed.receiver.waitForRequests(1);
    const [received] = bed.receiver.requestsTo('/rotated');
    const headers = Object.fromEntries(
      Object.entries(received.headers).map(([name, value]) => [name, String(value)]),
    );
    // A rotation lost to a concurrent one would have handed out a secret that never signs.
    for (const { secret } of rotations) {
      expect(() =>
        new Webhook(secret).verify(received.rawBody.toString('utf8'), headers),
      ).not.toThrow();
    }
    expect(String(received.headers['webhook-signature']).split(' ')).toHaveLength(3);
  }, 60_000);

  it('10 endpoints toggled while 12 loops complete steps: no 500, and after enabling all each webhook once', async () => {
    const [api] = await startApis();
    await toggleStorm(bed, api, 'postgres');
  }, 240_000);
});

describe('Endpoint changes racing transitions: SQLite (services)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stephook-races-'));
  let file = '';
  const bed = useProcessBed(REDIS_DB, () => ({
    DATABASE_URL: `sqlite:${file}`,
    DELIVERY_WORKER: 'on',
    STEP_COMPLETE_WEBHOOK: '',
    STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8',
    STEP_COMPLETE_RETRY_SCHEDULE: '1s,1s,1s,1s,1s',
  }));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('10 endpoints toggled while 12 loops complete steps: no 500, and after enabling all each webhook once', async () => {
    file = join(dir, `races-${Date.now()}.sqlite`);
    const api = await bed.startApi({ DELIVERY_WORKER: 'on' });
    const sqlite = await openSqlite(file);
    try {
      await toggleStorm({ ...bed, db: sqlite }, api, 'sqlite');
    } finally {
      sqlite.close();
    }
  }, 240_000);
});

/** The database a storm is checked on, whatever its kind. */
type StormBed = Pick<ProcessBed, 'receiver'> & { db: Query };

/**
 * One API, 10 endpoints hearing every step, 12 loops of terminal calls and one loop toggling
 * `disabled` on a random endpoint for 15 s; then every endpoint enabled and the backlog drained.
 */
async function toggleStorm(bed: StormBed, api: Api, name: string): Promise<void> {
  const endpoints: Endpoint[] = [];
  for (let i = 0; i < 10; i++) {
    endpoints.push(
      await json<Endpoint>(
        await call(api, 'POST', '/v1/webhook-endpoints', { url: bed.receiver.url(`/e${i}`) }),
        201,
      ),
    );
  }
  const load = new StepLoad([api], 12, 'storm');
  let toggles = 0;
  let toggleErrors = 0;
  const stormEnds = Date.now() + 15_000;
  while (Date.now() < stormEnds) {
    const endpoint = endpoints[Math.floor(Math.random() * endpoints.length)];
    const response = await call(api, 'PATCH', `/v1/webhook-endpoints/${endpoint.id}`, {
      disabled: Math.random() < 0.5,
    }).catch(() => null);
    toggles++;
    if (!response || response.status >= 500) toggleErrors++;
    await response?.body?.cancel();
  }
  await load.stop();
  for (const endpoint of endpoints) {
    const response = await call(api, 'PATCH', `/v1/webhook-endpoints/${endpoint.id}`, {
      disabled: false,
    });
    if (response.status >= 500) toggleErrors++;
    await response.body?.cancel();
  }
  const open = async () => {
    const states = await deliveryStates(bed.db);
    return (states.pending ?? 0) + (states.held ?? 0);
  };
  await eventually(async () => (await open()) === 0, 'nothing pending or held', 60_000).catch(
    () => undefined, // reported below
  );
  const states = await deliveryStates(bed.db);
  const received = countReceived(bed.receiver.requests);
  const figures = {
    transitions: load.completed.length,
    deliveries: Object.values(states).reduce((a, b) => a + b, 0),
    toggles,
    answers_500_or_more: load.serverErrors + toggleErrors,
    pending_or_held_after_drain: (states.pending ?? 0) + (states.held ?? 0),
    received: received.ids,
    received_twice: received.twice,
  };
  recordFigures(`endpoint-toggle-storm-${name}`, figures);
  expect(figures.transitions).toBeGreaterThan(100);
  expect(figures).toEqual({
    ...figures,
    answers_500_or_more: 0,
    pending_or_held_after_drain: 0,
    received: figures.deliveries,
    received_twice: 0,
  });
  // Every step was heard by all 10 endpoints: one delivery each, whatever its endpoint's state.
  expect(figures.deliveries).toBe(figures.transitions * 10);
}

/** A read-only look at the SQLite file the server writes. */
async function openSqlite(file: string): Promise<Query & { close(): void }> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(file, { readonly: true, fileMustExist: true });
  return {
    query<T>(sql: string, values: unknown[] = []) {
      const statement = db.prepare(sql.replace(/\$\d+/g, '?'));
      return Promise.resolve(statement.all(...values) as T[]);
    },
    close: () => db.close(),
  };
}
