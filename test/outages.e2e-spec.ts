import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import request from 'supertest';
import { useWebhookTestbed } from './helpers/webhook-testbed.js';

/**
 * The database stops answering (here: another process holds SQLite's write lock past the busy
 * timeout). Calls answer 503 with Retry-After instead of hanging or failing with 500, and an attempt
 * that was already sent keeps its result until it can be recorded — it is never sent again.
 */
describe('Database outages (e2e)', () => {
  const bed = useWebhookTestbed();
  let dir: string;
  let path: string;
  let locker: Database.Database | null;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stephook-outage-'));
    path = join(dir, 'stephook.sqlite');
    locker = null;
  });

  afterEach(() => {
    unlock();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Another process takes the write lock and keeps it until `unlock()`. */
  function lock(): void {
    locker = new Database(path);
    locker.exec('BEGIN IMMEDIATE');
  }
  function unlock(): void {
    if (locker?.inTransaction) locker.exec('ROLLBACK');
    locker?.close();
    locker = null;
  }

  it('answers 503 with Retry-After while the lock is held elsewhere, and serves again after', async () => {
    await bed.start({ DATABASE_URL: `sqlite:${path}` });
    const step = await bed.steps.create();
    lock();

    const refused = await request(bed.app.server).post('/v1/steps').send({ agent_id: 'a' });
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(refused.body).toEqual({
      statusCode: 503,
      message: 'The database is unavailable right now; try again shortly',
      error: 'Service Unavailable',
    });
    expect((await bed.steps.complete(step.id, 'success')).status).toBe(503);
    // Nothing was half-written: the step is still pending and has no delivery.
    expect((await request(bed.app.server).get(`/v1/steps/${step.id}`)).body).toMatchObject({
      status: 'pending',
    });

    unlock();
    expect((await bed.steps.complete(step.id, 'success')).status).toBe(200);
    await bed.receiver.waitForRequests(1);
    expect(bed.app.logs.entries.filter((entry) => entry.level === 'error')).toEqual([]);
  }, 30_000);

  it('an attempt sent while the database is away is recorded when it returns, and never sent twice', async () => {
    // A 1 s attempt deadline makes the lease (deadline + 10 s) run out while the lock is held, so
    // the scheduler can claim the delivery again: it must not send it a second time.
    await bed.start({ DATABASE_URL: `sqlite:${path}`, STEP_COMPLETE_TIMEOUT_MS: '1000' });
    bed.receiver.replyInTurn({ hold: true });
    const step = await bed.steps.create();
    expect((await bed.steps.complete(step.id, 'success')).status).toBe(200);
    await bed.receiver.waitForRequests(1);

    lock();
    bed.receiver.release(204);
    await bed.app.logs.waitFor(
      (entry) => entry.message.includes('were sent but cannot be recorded'),
      'the warning that a sent attempt waits to be recorded',
    );
    await new Promise((resolve) => setTimeout(resolve, 12_000)); // past the lease
    unlock();

    const delivery = await bed.deliveries.settled(step.id, 'delivered');
    expect(delivery.attempts).toHaveLength(1);
    expect(delivery.attempts[0]).toMatchObject({ number: 1, outcome: 'success', status_code: 204 });
    expect(bed.receiver.requests).toHaveLength(1);
    expect(bed.app.logs.text()).not.toContain('could not be attempted');
  }, 40_000);
});
