import { once } from 'node:events';
import { createServer } from 'node:net';
import { ensureBuilt, ServerProcess } from '../helpers/server-process.js';
import type { ServerEnv } from '../helpers/server-process.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { recordFigures } from './figures.js';
import { eventually, freshPostgres, freshRedis, inParallel, TestDatabase } from './services.js';

/**
 * docs/scaling-out.md on one host: `npm run start:worker` twice with the default METRICS_PORT
 * (9464). The second must not die at start (issue 22, item 8); the first is then SIGKILLed.
 * Redis database 15: scale-out uses 11, faults 12, endpoint races 13, endpoints 14.
 */
const REDIS_DB = 15;
const DEFAULT_METRICS_PORT = 9464;
const WORKER_CONCURRENCY = 16;
const STEPS = 1_000;

async function portIsFree(port: number): Promise<boolean> {
  const probe = createServer();
  probe.listen(port, '127.0.0.1');
  const [outcome] = await Promise.race([once(probe, 'listening'), once(probe, 'error')]);
  if (outcome instanceof Error) return false;
  probe.close();
  await once(probe, 'close');
  return true;
}

const isMetricsPortWarning = (line: { level: string; message: string }) =>
  line.level === 'warn' && line.message.startsWith(`METRICS_PORT ${DEFAULT_METRICS_PORT} `);
/** Said in the worker's start line, or on its own line when the worker takes the port over later. */
const listensOnDefault = (line: { message: string }) =>
  line.message.endsWith(` · metrics on http://127.0.0.1:${DEFAULT_METRICS_PORT}/metrics`) ||
  line.message === `stephook worker metrics on http://127.0.0.1:${DEFAULT_METRICS_PORT}/metrics`;

describe('Two workers on one host with the default METRICS_PORT (services)', () => {
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

  it('the start lines name PostgreSQL, Redis and the webhook without their credentials', async () => {
    const database = new URL(db.url);
    database.password = 'pg-s3cret-pw';
    database.search = '?application_name=start-line';
    const webhook = new URL(receiver.url());
    webhook.username = 'hook-user';
    webhook.password = 'hook-pa55';
    const env: ServerEnv = {
      DATABASE_URL: database.href,
      REDIS_URL: await freshRedis(REDIS_DB),
      STEP_COMPLETE_WEBHOOK: webhook.href,
    };
    const api = await ServerProcess.start({ ...env, DELIVERY_WORKER: 'off' });
    processes.push(api);
    const worker = await ServerProcess.startWorker(env);
    processes.push(worker);

    const shown = `postgres://127.0.0.1:5432${database.pathname}`;
    const redis = `redis://127.0.0.1:6379/${REDIS_DB}`;
    const info = (process: ServerProcess) =>
      process.lines.filter((line) => line.level === 'info').map((line) => line.message);
    expect(info(api)).toEqual([
      `stephook listening on ${api.baseUrl} · database ${shown} · environment endpoint ` +
        `${receiver.url()} · 0 API endpoints · not delivering here (DELIVERY_WORKER=off: workers ` +
        `deliver through BullMQ on ${redis})`,
    ]);
    expect(info(worker)).toEqual([
      `stephook worker delivering from the BullMQ queue on ${redis} · database ${shown} · ` +
        'no metrics listener (METRICS_PORT=0)',
    ]);
    for (const process of [api, worker]) {
      const printed = JSON.stringify(process.lines) + process.stderr;
      for (const secret of ['pg-s3cret-pw', 'application_name', 'hook-user', 'hook-pa55']) {
        expect(printed).not.toContain(secret);
      }
    }
  });

  it('the second keeps delivering after one warning; SIGKILL of the first loses nothing, and the second takes its port', async () => {
    // Another program may hold 9464 on the machine running the suite: then both workers must
    // warn and deliver, and there is no port to take over.
    const portWasFree = await portIsFree(DEFAULT_METRICS_PORT);
    const env: ServerEnv = {
      DATABASE_URL: db.url,
      REDIS_URL: await freshRedis(REDIS_DB),
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_TIMEOUT_MS: '5000',
      STEP_COMPLETE_CONCURRENCY: String(WORKER_CONCURRENCY),
    };
    const api = await ServerProcess.start({ ...env, DELIVERY_WORKER: 'off' });
    processes.push(api);
    // As an operator runs them: no METRICS_PORT given, the first started before the second.
    const first = await ServerProcess.startWorker({ ...env, METRICS_PORT: undefined });
    processes.push(first);
    const second = await ServerProcess.startWorker({ ...env, METRICS_PORT: undefined });
    processes.push(second);

    expect(second.lines.filter(isMetricsPortWarning)).toHaveLength(1);
    expect(second.stderr).toBe('');
    if (portWasFree) {
      expect(first.lines.some(listensOnDefault)).toBe(true);
      expect(first.lines.filter(isMetricsPortWarning)).toHaveLength(0);
    } else {
      expect(first.lines.filter(isMetricsPortWarning)).toHaveLength(1);
    }

    // Steps complete continuously through the API; the first worker dies after 300 webhooks.
    let completed = 0;
    const producing = inParallel(Array.from({ length: STEPS }), 8, async () => {
      const created = await fetch(`${api.baseUrl}/v1/steps`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ agent_id: 'shared-host' }),
      });
      const { id } = (await created.json()) as { id: string };
      const done = await fetch(`${api.baseUrl}/v1/steps/${id}/success`, { method: 'POST' });
      if (done.status !== 200) throw new Error(`success of ${id}: HTTP ${done.status}`);
      completed++;
    });
    await receiver.waitForRequests(300, 60_000);
    first.kill('SIGKILL');
    const killedAt = Date.now();
    await first.exited;
    const completedAtKill = completed;
    // Whatever the first worker had sent before it died has arrived by now.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const receivedBeforeKill = receiver.requests.length;
    await producing;

    const ids = () => new Set(receiver.requests.map((request) => request.headers['webhook-id']));
    await receiver.waitUntil(
      () => ids().size >= STEPS,
      `a webhook-id for each of the ${STEPS} steps at the receiver, after the first worker's SIGKILL`,
      120_000,
    );
    const recoveredMs = Date.now() - killedAt;
    await eventually(async () => {
      const [row] = await db.query<{ delivered: string }>(
        "SELECT COUNT(*) AS delivered FROM webhook_deliveries WHERE status = 'delivered'",
      );
      return Number(row.delivered) === STEPS;
    }, `all ${STEPS} deliveries recorded as delivered`);

    // Count at the receiver: every webhook-id, and how often each came.
    const arrivals = new Map<string, number[]>();
    receiver.requests.forEach((request, index) => {
      const id = String(request.headers['webhook-id']);
      arrivals.set(id, [...(arrivals.get(id) ?? []), index]);
    });
    const twice = [...arrivals.entries()].filter(([, copies]) => copies.length > 1);
    const recorded = new Map(
      (
        await db.query<{ delivery_id: string; attempts: string; failed: string }>(
          `SELECT delivery_id, COUNT(*) AS attempts,
                  SUM(CASE WHEN outcome = 'success' THEN 0 ELSE 1 END) AS failed
             FROM webhook_delivery_attempts GROUP BY delivery_id`,
        )
      ).map((row) => [
        row.delivery_id,
        { attempts: Number(row.attempts), failed: Number(row.failed) },
      ]),
    );
    // A webhook-id may come again (at-least-once, SPEC §6) for two reasons only, told apart by the
    // attempts the database recorded: the killed worker sent it and died before recording it (one
    // copy more than recorded attempts, the first before the kill), or a recorded attempt failed
    // (a timeout on this busy machine) and was retried. Anything else is a webhook sent twice.
    const sentByTheKilled = twice.filter(([id, copies]) => {
      const unrecorded = copies.length - (recorded.get(id)?.attempts ?? 0);
      return unrecorded === 1 && copies[0] < receivedBeforeKill;
    });
    const retriedAfterFailure = twice.filter(
      ([id, copies]) =>
        !sentByTheKilled.some(([killed]) => killed === id) &&
        (recorded.get(id)?.failed ?? 0) > 0 &&
        copies.length <= (recorded.get(id)?.attempts ?? 0),
    );
    const unexplained = twice.filter(
      ([id]) =>
        !sentByTheKilled.some(([killed]) => killed === id) &&
        !retriedAfterFailure.some(([retried]) => retried === id),
    );
    const figures = {
      steps: STEPS,
      completed_before_kill: completedAtKill,
      received: receiver.requests.length,
      distinct_webhook_ids: arrivals.size,
      lost: STEPS - arrivals.size,
      twice: twice.length,
      twice_sent_by_the_killed_worker: sentByTheKilled.length,
      twice_retried_after_a_failed_attempt: retriedAfterFailure.length,
      twice_unexplained: unexplained.length,
      recorded_attempts: [...recorded.values()].reduce((sum, row) => sum + row.attempts, 0),
      recovered_ms: recoveredMs,
      metrics_port_was_free: portWasFree ? 1 : 0,
    };
    recordFigures('workers-host-sigkill', figures);

    expect(figures.lost).toBe(0);
    expect(unexplained.map(([id, copies]) => ({ id, copies, recorded: recorded.get(id) }))).toEqual(
      [],
    );
    expect(figures.twice_sent_by_the_killed_worker).toBeLessThanOrEqual(WORKER_CONCURRENCY);

    // The second worker stayed up, said so once, and did the work after the kill.
    expect(second.child.exitCode).toBeNull();
    expect(second.lines.filter(isMetricsPortWarning)).toHaveLength(1);
    // Error lines only for attempts that failed (counted above), none about the listener.
    expect(
      second.lines.filter((line) => line.level === 'error' && line.outcome === undefined),
    ).toEqual([]);
    if (portWasFree) {
      // It retries the port every 30 s: the scrape target comes back, served by the survivor.
      await second.waitFor(listensOnDefault, 'the second worker to take over METRICS_PORT', 45_000);
      const metrics = await fetch(`http://127.0.0.1:${DEFAULT_METRICS_PORT}/metrics`);
      expect(metrics.status).toBe(200);
      const success =
        /^stephook_delivery_attempts_total\{endpoint="env",outcome="success"\} (\d+)$/m;
      expect(Number(success.exec(await metrics.text())?.[1])).toBeGreaterThan(0);
    }
  }, 300_000);
});
