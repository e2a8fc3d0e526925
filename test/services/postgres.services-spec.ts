import pg from 'pg';
import request from 'supertest';
import { PreparedStatement } from '../../src/database/prepared-statements.js';
import { queryRows } from '../../src/database/raw-sql.js';
import { lockKey, RETENTION_LOCK_CLASS, RetentionSweeper } from '../../src/database/retention.js';
import { createTestApp, TestApp } from '../helpers/test-app.js';
import { StepsApi } from '../helpers/steps-api.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { eventually, freshPostgres, TestDatabase } from './services.js';

/**
 * The app in this process on a real PostgreSQL database (migrated by the same migrations as
 * SQLite): the parts where the dialects differ — JSON tag filters, 64-bit metrics, concurrent
 * transitions on pooled connections, the outbox row with the transition.
 */
describe('The API on PostgreSQL (services)', () => {
  let db: TestDatabase;
  let receiver: WebhookReceiver;
  let t: TestApp;
  let api: StepsApi;

  beforeAll(async () => {
    db = await freshPostgres();
    receiver = await WebhookReceiver.start();
    t = await createTestApp({
      DATABASE_URL: db.url,
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
    });
    api = new StepsApi(t.server);
  });

  afterAll(async () => {
    await t.close();
    await receiver.close();
    await db.drop();
  });

  it('migrates every table', async () => {
    const tables = await db.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    expect(tables.map((row) => row.tablename)).toEqual([
      'api_keys',
      'migrations',
      'step_metrics',
      'steps',
      'webhook_deliveries',
      'webhook_delivery_attempts',
      'webhook_endpoint_revision',
      'webhook_endpoint_throttles',
      'webhook_endpoints',
    ]);
  });

  it('filters by tags (every tag given must be present) and pages with a cursor', async () => {
    const run = `run-${Date.now()}`;
    const a = await api.create({ run_id: run, tags: ['alpha', 'beta'] });
    const b = await api.create({ run_id: run, tags: ['beta'] });
    await api.create({ run_id: run, tags: ['gamma'] });

    expect((await api.list(`run_id=${run}&tags=beta`)).map((s) => s.id).sort()).toEqual(
      [a.id, b.id].sort(),
    );
    expect((await api.list(`run_id=${run}&tags=alpha&tags=beta`)).map((s) => s.id)).toEqual([a.id]);
    const [first] = await api.list(`run_id=${run}&limit=1&order=asc`);
    const [second] = await api.list(`run_id=${run}&limit=1&order=asc&after=${first.id}`);
    expect(first.id).toBe(a.id);
    expect(second.id).toBe(b.id);
  });

  it('binds hand-written SQL as $n placeholders, spreads lists, and leaves :: casts alone', async () => {
    const runner = t.dataSource.createQueryRunner();
    try {
      const rows = await queryRows(
        runner.manager,
        'SELECT :a::int + 1 AS a, :b AS b, 3 IN (:...list) AS has_three',
        { a: '41', b: "x'; DROP", list: [1, 2, 3] },
      );
      expect(rows).toEqual([{ a: 42, b: "x'; DROP", has_three: true }]);
    } finally {
      await runner.release();
    }
  });

  it('runs a prepared statement as one pg named statement per connection, in the open transaction', async () => {
    const statement = new PreparedStatement<{ n: number; s: string }>(
      'services_probe',
      'SELECT CAST(:n AS integer) + 1 AS n, :s AS s',
    );
    const names = await t.dataSource.transaction(async (manager) => {
      expect(await statement.rows(manager, { n: 41, s: "x'; DROP" })).toEqual([
        { n: 42, s: "x'; DROP" },
      ]);
      expect(await statement.rows(manager, { n: 1, s: 'y' })).toEqual([{ n: 2, s: 'y' }]);
      return manager.query<{ name: string }[]>(
        "SELECT name FROM pg_prepared_statements WHERE name LIKE 'stephook_services_probe_%'",
      );
    });
    expect(names).toHaveLength(1);
  });

  it('answers a terminal call with the step as stored, and fans out one delivery per endpoint', async () => {
    const held = await request(t.server)
      .post('/v1/webhook-endpoints')
      .send({ url: 'https://hooks.example.com/held', disabled: true })
      .expect(201);
    const heldId = (held.body as { id: string }).id;
    try {
      await answersAndFansOut(heldId);
    } finally {
      // Leaves nothing held or failed behind for the tests after this one.
      await request(t.server).delete(`/v1/webhook-endpoints/${heldId}`).expect(204);
      await db.query('DELETE FROM webhook_deliveries WHERE endpoint_id = $1', [heldId]);
    }
  });

  async function answersAndFansOut(heldId: string): Promise<void> {
    const success = await api.create({ agent_id: 'agent-pg', tags: ['a', 'b'] });
    const answered = await request(t.server)
      .post(`/v1/steps/${success.id}/success`)
      .send({
        stop_reason: 'end_turn',
        usage: {
          prompt_tokens: 5,
          completion_tokens: 7,
          total_tokens: 12,
          prompt_tokens_details: { cached_tokens: 1 },
        },
      })
      .expect(200);
    expect(answered.body).toEqual((await request(t.server).get(`/v1/steps/${success.id}`)).body);
    expect(answered.body).toMatchObject({
      status: 'success',
      tags: ['a', 'b'],
      prompt_tokens: 5,
      prompt_tokens_details: { cached_tokens: 1 },
      stop_reason: 'end_turn',
    });

    const failed = await api.create();
    const failure = await request(t.server)
      .post(`/v1/steps/${failed.id}/error`)
      .send({ error_type: 'E', error_message: 'm "quoted" \\ back', error_details: { k: [1] } })
      .expect(200);
    expect(failure.body).toEqual((await request(t.server).get(`/v1/steps/${failed.id}`)).body);
    expect(failure.body.error_data).toEqual({
      message: 'm "quoted" \\ back',
      traceback: null,
      details: { k: [1] },
    });

    const rows = await db.query<{ endpoint_id: string; status: string; payload: string }>(
      'SELECT endpoint_id, status, payload FROM webhook_deliveries WHERE step_id = $1',
      [success.id],
    );
    const byEndpoint = (a: { endpoint_id: string }, b: { endpoint_id: string }) =>
      a.endpoint_id < b.endpoint_id ? -1 : 1;
    expect(rows.sort(byEndpoint)).toEqual(
      [
        {
          endpoint_id: 'env',
          // Sent already, or about to be.
          status: expect.stringMatching(/^(pending|delivered)$/) as unknown,
          payload: `{"step_id":"${success.id}"}`,
        },
        {
          endpoint_id: heldId,
          status: 'held',
          payload: `{"step_id":"${success.id}"}`,
        },
      ].sort(byEndpoint),
    );
  }

  it('keeps nanosecond metrics beyond 2^53 exact', async () => {
    const step = await api.create();
    await request(t.server)
      .post(`/v1/steps/${step.id}/success`)
      .set('content-type', 'application/json')
      .send('{"metrics":{"step_ns":9223372036854775807,"llm_request_ns":"1234567890123456789"}}')
      .expect(200);

    const metrics = await request(t.server).get(`/v1/steps/${step.id}/metrics`).expect(200);
    expect(metrics.body).toMatchObject({
      step_ns: '9223372036854775807',
      llm_request_ns: '1234567890123456789',
    });
  });

  it('20 concurrent conflicting terminal calls: one winner, one delivery row, one webhook', async () => {
    const step = await api.create();
    const kinds = ['success', 'failed', 'cancelled'] as const;

    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, index) => api.complete(step.id, kinds[index % 3])),
    );
    await receiver.waitUntil((requests) =>
      requests.some((r) => r.rawBody.toString().includes(step.id)),
    );

    const winner = (await request(t.server).get(`/v1/steps/${step.id}`).expect(200)).body as {
      status: string;
    };
    for (const response of responses) {
      const sameAsWinner = kinds[responses.indexOf(response) % 3] === winner.status;
      expect(response.status).toBe(sameAsWinner ? 200 : 409);
    }
    const rows = await db.query('SELECT id FROM webhook_deliveries WHERE step_id = $1', [step.id]);
    expect(rows).toHaveLength(1);
    const deliveries = await request(t.server).get(`/v1/steps/${step.id}/deliveries`).expect(200);
    expect(deliveries.body).toHaveLength(1);
    expect(receiver.requests.filter((r) => r.rawBody.toString().includes(step.id))).toHaveLength(1);
  });

  it('summarises deliveries and exports the backlog gauges on PostgreSQL too', async () => {
    const summary = await request(t.server).get('/v1/webhook-deliveries/summary').expect(200);
    const [{ n: delivered }] = await db.query<{ n: string }>(
      "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'delivered'",
    );
    expect(summary.body.counts).toEqual({
      pending: 0,
      held: 0,
      delivered: Number(delivered),
      failed: 0,
    });
    expect(summary.body.last_hour.attempts).toBeGreaterThanOrEqual(Number(delivered));
    expect(summary.body.attempts_per_minute).toHaveLength(60);

    const metrics = await request(t.server).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/^stephook_deliveries_pending 0$/m);
    expect(metrics.text).toMatch(/^stephook_deliveries_failed 0$/m);
  });

  it('purges expired deliveries on PostgreSQL, one process at a time per rule (advisory lock)', async () => {
    for (let i = 0; i < 3; i++) {
      const step = await api.create({ agent_id: 'aged' });
      await api.complete(step.id, 'success').expect(200);
    }
    await receiver.waitUntil((requests) => requests.length >= 3, 'the three webhooks');
    const delivered = async () =>
      Number(
        (
          await db.query<{ n: string }>(
            "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'delivered'",
          )
        )[0].n,
      );
    const pending = async () =>
      Number(
        (
          await db.query<{ n: string }>(
            "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending'",
          )
        )[0].n,
      );
    await eventually(
      async () => (await pending()) === 0 && (await delivered()) >= 3,
      'every delivery to be recorded as delivered',
    );
    const before = await delivered();
    await db.query("UPDATE webhook_deliveries SET created_at = '2020-01-01T00:00:00.000Z'");
    const sweeper = t.app.get(RetentionSweeper);
    const keys = (swept: Map<{ key: string }, number>) =>
      Object.fromEntries([...swept].map(([rule, count]) => [rule.key, count]));

    // Another process (a session here) holds the delivered rule's lock: this one leaves it.
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1, $2)', [
        RETENTION_LOCK_CLASS,
        lockKey('deliveries_delivered'),
      ]);
      expect(keys(await sweeper.sweep())).toEqual({
        deliveries_delivered: 0,
        deliveries_failed: 0,
      });
      expect(await delivered()).toBe(before);
    } finally {
      await other.end(); // its session ends, and the lock with it
    }
    expect(keys(await sweeper.sweep())).toEqual({
      deliveries_delivered: before,
      deliveries_failed: 0,
    });
    expect(await delivered()).toBe(0);
    const [{ n: orphans }] = await db.query<{ n: string }>(
      'SELECT COUNT(*) AS n FROM webhook_delivery_attempts',
    );
    expect(Number(orphans)).toBe(0);
  });
});
