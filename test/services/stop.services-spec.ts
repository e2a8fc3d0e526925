import type { ServerProcess } from '../helpers/server-process.js';
import { Api, useProcessBed } from './services.js';

/**
 * SPEC §6 with BullMQ: SIGTERM to a process that delivers from the queue, while every attempt hangs
 * on the receiver far longer than the stop may take, exits 0 within 10 s of the signal; the
 * attempts it gave up on are delivered by the next worker once their leases run out, none lost.
 * Redis database 10: scale-out uses 11, faults 12, endpoint races 13, endpoints 14, workers-host 15.
 */
const REDIS_DB = 10;
const STEPS = 5;

describe('Stopping a BullMQ delivery process with attempts hanging (services)', () => {
  const bed = useProcessBed(REDIS_DB, ({ db, redisUrl, receiver }) => ({
    DATABASE_URL: db.url,
    REDIS_URL: redisUrl,
    STEP_COMPLETE_WEBHOOK: receiver.url(),
    // Three times the stop's bound: the drain must not wait for it.
    STEP_COMPLETE_TIMEOUT_MS: '30000',
    STEP_COMPLETE_CONCURRENCY: '16',
  }));

  async function completeSteps(api: Api): Promise<void> {
    for (let i = 0; i < STEPS; i++) {
      const created = await fetch(`${api.baseUrl}/v1/steps`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ agent_id: 'stop' }),
      });
      const { id } = (await created.json()) as { id: string };
      const done = await fetch(`${api.baseUrl}/v1/steps/${id}/success`, { method: 'POST' });
      expect(done.status).toBe(200);
    }
  }

  /** SIGTERMs `delivering` while all its attempts hang; its exit code and the ms from the signal. */
  async function stopWhileHanging(delivering: ServerProcess) {
    const signalled = performance.now();
    delivering.kill('SIGTERM');
    const code = await delivering.exited;
    const stopMs = performance.now() - signalled;
    process.stdout.write(`SIGTERM to exit, ${STEPS} attempts hanging: ${Math.round(stopMs)} ms\n`);
    return { code, stopMs };
  }

  /** Every step's webhook-id reaches the receiver once it answers, through a new worker. */
  async function expectAllDeliveredAfterRestart(): Promise<void> {
    const hung = new Set(bed.receiver.requests.map((request) => request.headers['webhook-id']));
    expect(hung.size).toBe(STEPS);
    const before = bed.receiver.requests.length;
    bed.receiver.replyWith({ status: 204 });
    await bed.startWorker();
    // Their BullMQ locks run out (10 s), then their database leases (30 s + 10 s from the claim).
    await bed.receiver.waitForRequests(before + STEPS, 90_000);
    const delivered = new Set(
      bed.receiver.requests.slice(before).map((request) => request.headers['webhook-id']),
    );
    expect([...hung].filter((id) => !delivered.has(id))).toEqual([]);
  }

  it('a worker (dist/worker.js) exits 0 within 10 s of SIGTERM; a new worker delivers every step', async () => {
    bed.receiver.replyWith({ hang: true });
    const api = await bed.startApi();
    const worker = await bed.startWorker();
    await completeSteps(api);
    await bed.receiver.waitForRequests(STEPS);

    const { code, stopMs } = await stopWhileHanging(worker);
    expect(code).toBe(0);
    expect(stopMs).toBeLessThan(10_000);
    expect(worker.lines.map((line) => line.message)).toContain(
      `${STEPS} webhook attempt(s) did not finish before the stop: they are left pending, and sent again once their leases (STEP_COMPLETE_TIMEOUT_MS + 10 s) run out`,
    );

    await expectAllDeliveredAfterRestart();
  }, 180_000);

  it('an API that delivers (REDIS_URL, DELIVERY_WORKER=on) exits 0 within 10 s of SIGTERM; a new worker delivers every step', async () => {
    bed.receiver.replyWith({ hang: true });
    const api = await bed.startApi({ DELIVERY_WORKER: 'on' });
    await completeSteps(api);
    await bed.receiver.waitForRequests(STEPS);

    const { code, stopMs } = await stopWhileHanging(api);
    expect(code).toBe(0);
    expect(stopMs).toBeLessThan(10_000);

    await expectAllDeliveredAfterRestart();
  }, 180_000);

  it('a worker lets attempts that answer during the drain finish: each recorded delivered, sent once', async () => {
    bed.receiver.replyWith({ hold: true });
    const api = await bed.startApi();
    const worker = await bed.startWorker();
    await completeSteps(api);
    await bed.receiver.waitForRequests(STEPS);

    worker.kill('SIGTERM');
    await worker.waitFor(
      (line) => line.message.startsWith('Waiting up to '),
      'the worker to wait for its attempts in flight',
    );
    bed.receiver.release(204);

    expect(await worker.exited).toBe(0);
    const rows = await bed.db.query<{ status: string; attempts: number }>(
      `SELECT d.status, (SELECT COUNT(*)::int FROM webhook_delivery_attempts a
                          WHERE a.delivery_id = d.id) AS attempts
         FROM webhook_deliveries d`,
    );
    expect(rows).toEqual(Array(STEPS).fill({ status: 'delivered', attempts: 1 }));
    expect(bed.receiver.requests).toHaveLength(STEPS);
  }, 120_000);
});
