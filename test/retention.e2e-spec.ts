import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { RetentionSweeper } from '../src/database/retention.js';
import { TransactionRunner } from '../src/database/transaction-runner.js';
import type { DeliveryJson } from '../src/webhook/deliveries/delivery.presenter.js';
import { eventually } from './helpers/deadline.js';
import { createTestApp } from './helpers/test-app.js';
import { useWebhookTestbed } from './helpers/webhook-testbed.js';

const HOUR_MS = 3_600_000;

/** Retention: what ages out goes, in the background; what is still on its way never does. */
describe('Retention (e2e)', () => {
  const bed = useWebhookTestbed();

  async function listDeliveries(query = ''): Promise<DeliveryJson[]> {
    const response = await request(bed.app.server)
      .get(`/v1/webhook-deliveries?limit=1000${query}`)
      .expect(200);
    return response.body as DeliveryJson[];
  }

  /** Moves rows back in time, as if they had been written `ms` ago. */
  async function age(table: 'steps' | 'webhook_deliveries', ids: string[], ms: number) {
    const createdAt = new Date(Date.now() - ms).toISOString();
    const column = table === 'steps' ? 'id' : 'step_id';
    await bed.app.dataSource.query(
      `UPDATE ${table} SET created_at = ? WHERE ${column} IN (${ids.map(() => '?').join(', ')})`,
      [createdAt, ...ids],
    );
  }

  async function completedStep(agentId = 'agent-r'): Promise<string> {
    const step = await bed.steps.create({ agent_id: agentId });
    await bed.steps.complete(step.id, 'success').expect(200);
    return step.id;
  }

  it('deletes expired delivered and failed deliveries (with attempts) and expired steps; keeps fresh, pending and held ones', async () => {
    await bed.start({
      STEP_COMPLETE_RETENTION: '1h',
      STEP_COMPLETE_FAILED_RETENTION: '2h',
      STEP_RETENTION: '3h',
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
      STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8',
    });
    const held = (
      await request(bed.app.server)
        .post('/v1/webhook-endpoints')
        .send({ url: bed.receiver.url('/held'), disabled: true, filter: { agent_ids: ['held'] } })
        .expect(201)
    ).body as { id: string };

    bed.receiver.replyWith({ status: 204 });
    const delivered = [await completedStep(), await completedStep(), await completedStep()];
    const heldStep = await completedStep('held'); // env: delivered; the disabled endpoint: held
    await bed.receiver.waitForRequests(4);
    bed.receiver.replyWith({ status: 500 });
    const failed = [await completedStep(), await completedStep()];
    for (const stepId of failed) await bed.deliveries.settled(stepId, 'failed');
    await eventually(
      async () => (await listDeliveries('&status=delivered')).length === 4,
      'the four deliveries to be recorded as delivered',
    );
    // 90 minutes old: past delivered retention, not failed; 150 minutes: past both, not the steps'.
    await age('webhook_deliveries', [...delivered, heldStep], 90 * 60_000);
    await age('webhook_deliveries', failed.slice(0, 1), 150 * 60_000);
    await age('webhook_deliveries', failed.slice(1), 90 * 60_000);
    // Steps 4 hours old go, unless a delivery of theirs is still on its way.
    await age('steps', [delivered[0], failed[0], heldStep], 4 * HOUR_MS);

    bed.receiver.replyWith({ status: 204 });
    const fresh = await completedStep();
    await eventually(
      async () => (await bed.deliveries.forStep(fresh))[0]?.status === 'delivered',
      'the fresh step to be delivered',
    );
    bed.receiver.replyWith({ hold: true });
    const pendingStep = await completedStep();
    await bed.receiver.waitForRequests(7);
    await age('webhook_deliveries', [pendingStep], 10 * HOUR_MS);
    await age('steps', [pendingStep], 10 * HOUR_MS);

    const swept = await bed.app.app.get(RetentionSweeper).sweep();
    expect(Object.fromEntries([...swept].map(([rule, count]) => [rule.key, count]))).toEqual({
      deliveries_delivered: 4, // delivered, and heldStep's env delivery
      deliveries_failed: 1, // failed[0]
      steps: 2, // delivered[0] and failed[0]; heldStep is kept by its held delivery
    });

    const left = await listDeliveries();
    const byStep = (stepId: string) => left.filter((delivery) => delivery.step_id === stepId);
    expect(left.map((delivery) => delivery.status).sort()).toEqual([
      'delivered', // fresh
      'failed', // failed[1]: 90 minutes, within its 2 h
      'held', // heldStep's held endpoint: never aged out
      'pending', // pendingStep: 10 h old and in flight
    ]);
    expect(byStep(fresh)).toHaveLength(1);
    expect(byStep(failed[1])).toHaveLength(1);
    expect(byStep(heldStep).map((delivery) => delivery.endpoint_id)).toEqual([held.id]);
    expect(byStep(pendingStep).map((delivery) => delivery.status)).toEqual(['pending']);

    // Attempts went with their deliveries.
    const [{ n: attempts }] = await bed.app.dataSource.query<{ n: number }[]>(
      `SELECT COUNT(*) AS n FROM webhook_delivery_attempts a
       WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = a.delivery_id)`,
    );
    expect(attempts).toBe(0);

    // Steps: the 4-hour-old ones went (delivered[0] and failed[0], whose deliveries had gone or go
    // with them), except heldStep, whose held delivery keeps it; the 10-hour-old pending one stays.
    const status = async (stepId: string) =>
      (await request(bed.app.server).get(`/v1/steps/${stepId}`)).status;
    expect(await status(delivered[0])).toBe(404);
    expect(await status(failed[0])).toBe(404);
    expect(await status(heldStep)).toBe(200);
    expect(await status(pendingStep)).toBe(200);
    expect(await status(delivered[1])).toBe(200);

    // The summary (the dashboard's cards) counts what the list shows.
    const summary = (
      await request(bed.app.server).get('/v1/webhook-deliveries/summary').expect(200)
    ).body as { counts: Record<string, number> };
    expect(summary.counts).toEqual({ pending: 1, held: 1, delivered: 1, failed: 1 });

    // What was kept still goes out: the pending attempt is answered, the endpoint enabled.
    bed.receiver.replyWith({ status: 204 });
    bed.receiver.release(204);
    await request(bed.app.server)
      .patch(`/v1/webhook-endpoints/${held.id}`)
      .send({ disabled: false })
      .expect(200);
    await eventually(
      async () => (await listDeliveries('&status=delivered')).length === 3,
      'the kept pending and held deliveries to be delivered',
    );
    const metrics = (await request(bed.app.server).get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/^stephook_retention_deleted_total\{rule="deliveries_delivered"\} 4$/m);
    expect(metrics).toMatch(/^stephook_retention_deleted_total\{rule="steps"\} 2$/m);
  });

  it('STEP_RETENTION deletes only terminal steps whose deliveries are all finished; a kept pending step completes and is delivered', async () => {
    await bed.start({
      STEP_RETENTION: '1h',
      // Deliveries never age out on their own here: each step is judged with all its deliveries.
      STEP_COMPLETE_RETENTION: 'never',
      STEP_COMPLETE_FAILED_RETENTION: 'never',
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
      STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8',
    });
    await request(bed.app.server)
      .post('/v1/webhook-endpoints')
      .send({ url: bed.receiver.url('/held'), disabled: true, filter: { agent_ids: ['held'] } })
      .expect(201);
    const pending = [
      (await bed.steps.create({ agent_id: 'agent-r' })).id,
      (await bed.steps.create({ agent_id: 'agent-r' })).id,
      (await bed.steps.create({ agent_id: 'held' })).id,
    ];
    bed.receiver.replyWith({ status: 204 });
    const delivered = await completedStep();
    const heldStep = await completedStep('held'); // env: delivered; the disabled endpoint: held
    await bed.receiver.waitForRequests(2);
    bed.receiver.replyWith({ status: 500 });
    const failed = await completedStep();
    await bed.deliveries.settled(failed, 'failed');
    bed.receiver.replyWith({ hold: true });
    const inFlight = await completedStep();
    await bed.receiver.waitForRequests(4);
    await eventually(
      async () => (await listDeliveries('&status=delivered')).length === 2,
      'the two answered deliveries to be recorded as delivered',
    );
    const all = [...pending, delivered, heldStep, failed, inFlight];
    await age('steps', all, 2 * HOUR_MS);
    await age('webhook_deliveries', all, 2 * HOUR_MS);

    const swept = await bed.app.app.get(RetentionSweeper).sweep();
    expect(Object.fromEntries([...swept].map(([rule, count]) => [rule.key, count]))).toEqual({
      steps: 2, // delivered and failed: every delivery of theirs is finished
    });
    const status = async (stepId: string) =>
      (await request(bed.app.server).get(`/v1/steps/${stepId}`)).status;
    expect(await Promise.all(all.map(status))).toEqual([200, 200, 200, 404, 200, 404, 200]);
    expect((await listDeliveries()).map((delivery) => delivery.status).sort()).toEqual([
      'delivered', // heldStep's env delivery goes with its step only
      'held',
      'pending',
    ]);

    // The kept pending steps are still there to complete, and their webhooks go out.
    bed.receiver.release(204);
    bed.receiver.replyWith({ status: 204 });
    for (const stepId of pending.slice(0, 2)) {
      await bed.steps.complete(stepId, 'success').expect(200);
    }
    await bed.steps.complete(pending[2], 'cancelled').expect(200);
    await bed.receiver.waitUntil(
      (requests) =>
        pending.every((stepId) =>
          requests.some(
            (received) =>
              received.path === '/hook' &&
              (JSON.parse(received.rawBody.toString()) as { step_id: string }).step_id === stepId,
          ),
        ),
      'a webhook for each kept pending step',
    );
  });

  it('STEP_RETENTION on its own clock leaves pending steps to be completed later (the 404s of issue 22)', async () => {
    await bed.start({ STEP_RETENTION: '1s' });
    bed.receiver.replyWith({ status: 204 });
    const pending: string[] = [];
    for (let i = 0; i < 20; i++) pending.push((await bed.steps.create({ agent_id: 'agent-r' })).id);
    // A finished step created after them: once a background pass deletes it, every pending step
    // was older than STEP_RETENTION in that pass.
    const finished = await completedStep();
    await bed.app.logs.waitFor(
      (entry) => entry.message.startsWith('Retention: deleted 1 steps'),
      'a background pass to delete the finished step',
      10_000,
    );
    await request(bed.app.server).get(`/v1/steps/${finished}`).expect(404);
    for (const stepId of pending) await bed.steps.complete(stepId, 'success').expect(200);
    await bed.receiver.waitUntil(
      (requests) => new Set(requests.map((received) => received.rawBody.toString())).size === 21,
      'a webhook for each of the 20 pending steps',
    );
  });

  it('purges in the background, at start and then on its own clock', async () => {
    await bed.start({
      STEP_COMPLETE_RETENTION: '1s',
      STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8',
    });
    const held = (
      await request(bed.app.server)
        .post('/v1/webhook-endpoints')
        .send({ url: bed.receiver.url('/held'), disabled: true })
        .expect(201)
    ).body as { id: string };
    const stepIds = [await completedStep(), await completedStep()];
    await bed.receiver.waitForRequests(2);
    await eventually(
      async () => (await listDeliveries('&status=delivered')).length === 2,
      'both deliveries to be delivered',
    );
    await bed.app.logs.waitFor(
      (entry) => entry.message.startsWith('Retention: deleted 2 delivered deliveries'),
      'the background retention pass to delete both delivered deliveries',
      10_000,
    );
    const left = await listDeliveries();
    expect(left.map((delivery) => [delivery.step_id, delivery.endpoint_id]).sort()).toEqual(
      stepIds.map((stepId) => [stepId, held.id]).sort(),
    );
  });
});

/** SQLite gives the space of deleted rows back to the file system. */
describe('Retention on a SQLite file (e2e)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'stephook-retention-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('shrinks the file after purging 3,000 expired deliveries', async () => {
    const path = join(dir, 'stephook.sqlite');
    const app = await createTestApp({ DATABASE_URL: `sqlite:${path}`, STEP_RETENTION: '1h' });
    try {
      const pragma = async (name: string) =>
        (await app.dataSource.query<Record<string, number>[]>(`PRAGMA ${name}`))[0][name];
      expect(await pragma('auto_vacuum')).toBe(2); // incremental
      const old = new Date(Date.now() - 2 * HOUR_MS).toISOString();
      const payload = JSON.stringify({ step_id: 'x', padding: 'p'.repeat(1_000) });
      // Through the app's runner: on SQLite a transaction of its own would share the connection
      // with the app's (the start's retention pass among them).
      await app.app.get(TransactionRunner).run(async (manager) => {
        for (let i = 0; i < 3_000; i++) {
          const id = `step-old-${String(i).padStart(5, '0')}`;
          await manager.query(
            `INSERT INTO steps (id, status, tags, prompt_tokens, completion_tokens, total_tokens, created_at, updated_at)
             VALUES (?, 'success', '[]', 0, 0, 0, ?, ?)`,
            [id, old, old],
          );
          await manager.query(
            `INSERT INTO webhook_deliveries (id, step_id, endpoint_id, status, payload, attempt_count, schedule_position, created_at, updated_at)
             VALUES (?, ?, 'env', 'delivered', ?, 1, 0, ?, ?)`,
            [`msg_${i}`, id, payload, old, old],
          );
        }
      });
      await app.dataSource.query('PRAGMA wal_checkpoint(TRUNCATE)');
      const before = { pages: await pragma('page_count'), bytes: statSync(path).size };

      const swept = await app.app.get(RetentionSweeper).sweep();
      expect([...swept.values()].reduce((sum, count) => sum + count, 0)).toBe(3_000);
      await app.dataSource.query('PRAGMA wal_checkpoint(TRUNCATE)');
      const after = { pages: await pragma('page_count'), bytes: statSync(path).size };

      expect(await pragma('freelist_count')).toBe(0);
      expect(after.pages).toBeLessThan(before.pages / 5);
      expect(after.bytes).toBeLessThan(before.bytes / 5);
    } finally {
      await app.close();
    }
  });
});
