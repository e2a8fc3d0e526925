import pg from 'pg';
import type { ServerProcess } from '../helpers/server-process.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { withDeadline } from '../helpers/deadline.js';
import type { ReceivedRequest } from '../helpers/webhook-receiver.js';
import { PgDeliveryNotifier } from '../../src/webhook/dispatch/pg-delivery-notifier.js';
import { recordFigures } from './figures.js';
import {
  Api,
  call,
  eventually,
  freshPostgres,
  inParallel,
  json,
  TestDatabase,
  useProcessBed,
} from './services.js';

/**
 * docs/scaling-out.md without Redis: PostgreSQL alone is the queue, and LISTEN/NOTIFY wakes the
 * worker when an API process that delivers nothing (DELIVERY_WORKER=off) commits a step's
 * delivery. Real built processes, the machine's PostgreSQL, a real receiver. No process is given
 * REDIS_URL; the bed empties Redis database 8 all the same (helper D's number for issue 24).
 */
const REDIS_DB = 8;
const CHANNEL = 'stephook_deliveries';

const stepIdOf = (request: ReceivedRequest) =>
  (JSON.parse(request.rawBody.toString('utf8')) as { step_id: string }).step_id;
/** Per webhook-id, how many times the receiver answered it 2xx (a delivery, as a receiver sees it). */
function answeredPerWebhookId(requests: ReceivedRequest[]): Map<string, number> {
  const answered = new Map<string, number>();
  for (const request of requests) {
    if (request.answeredWith === undefined || request.answeredWith >= 300) continue;
    const id = String(request.headers['webhook-id']);
    answered.set(id, (answered.get(id) ?? 0) + 1);
  }
  return answered;
}
const answeredSteps = (requests: ReceivedRequest[]) =>
  new Set(requests.filter((r) => r.answeredWith === 204).map(stepIdOf));

async function completedStep(api: Api): Promise<string> {
  const { id } = await json<{ id: string }>(
    await call(api, 'POST', '/v1/steps', { agent_id: 'pg-notify' }),
    201,
  );
  await json(await call(api, 'POST', `/v1/steps/${id}/success`, { stop_reason: 'end_turn' }), 200);
  return id;
}

async function deliveryStates(db: TestDatabase): Promise<Record<string, number>> {
  const rows = await db.query<{ status: string; n: string }>(
    'SELECT status, COUNT(*) AS n FROM webhook_deliveries GROUP BY status',
  );
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
}

/** Backends with the notifier's connection open, and whether each LISTENs (its last statement). */
async function notifyConnections(db: TestDatabase): Promise<{ pid: number; query: string }[]> {
  return db.query(
    `SELECT pid, query FROM pg_stat_activity
      WHERE application_name = 'stephook notify' AND datname = current_database()`,
  );
}
const listening = async (db: TestDatabase) =>
  (await notifyConnections(db)).filter((c) => c.query === `LISTEN ${CHANNEL}`).length;

/** The test's own LISTEN on the channel: counts the NOTIFYs stephook sends. */
async function listenTo(
  db: TestDatabase,
): Promise<{ heard: () => number; end: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  let heard = 0;
  client.on('notification', () => heard++);
  await client.query(`LISTEN ${CHANNEL}`);
  return { heard: () => heard, end: () => client.end() };
}

describe('PostgreSQL without Redis: an API process and a worker woken by LISTEN/NOTIFY (services)', () => {
  const bed = useProcessBed(REDIS_DB, ({ db, receiver }) => ({
    DATABASE_URL: db.url,
    STEP_COMPLETE_WEBHOOK: receiver.url(),
    STEP_COMPLETE_TIMEOUT_MS: '2000',
  }));
  const { startApi, startWorker } = bed;
  const workerListens = () =>
    eventually(
      async () => (await listening(bed.db)) === 1,
      'the worker LISTENs on its own connection',
    );

  it('terminal calls through an API that delivers nothing reach the receiver through the worker, each NOTIFY announcing them', async () => {
    const [api, worker] = await Promise.all([startApi(), startWorker()]);
    await workerListens();
    const probe = await listenTo(bed.db);
    const latencies: number[] = [];
    try {
      for (let n = 0; n < 30; n++) {
        const { id: stepId } = await json<{ id: string }>(
          await call(api, 'POST', '/v1/steps', { agent_id: 'pg-notify' }),
          201,
        );
        const calledAt = Date.now();
        await json(await call(api, 'POST', `/v1/steps/${stepId}/success`), 200);
        await bed.receiver.waitUntil(
          (requests) => requests.some((request) => stepIdOf(request) === stepId),
          `the webhook of step ${n + 1} of 30 (${stepId}), sent by the worker`,
        );
        latencies.push(bed.receiver.requests.at(-1)!.receivedAt - calledAt);
      }
      await eventually(async () => probe.heard() >= 30, '30 NOTIFYs on stephook_deliveries');
    } finally {
      await probe.end();
    }
    expect(bed.receiver.requests).toHaveLength(30);
    expect(answeredPerWebhookId(bed.receiver.requests).size).toBe(30);
    // The API sends, the worker listens: one notify connection each, outside their pools.
    const connections = await notifyConnections(bed.db);
    expect(connections).toHaveLength(2);
    expect(connections.filter((c) => c.query === `LISTEN ${CHANNEL}`)).toHaveLength(1);
    // The worker, not the API, made every attempt.
    const attemptsBy = (process: ServerProcess) =>
      process.lines.filter((line) => line.context === 'DeliveryDispatcher' && line.outcome).length;
    // Each attempt is logged once recorded, a moment after the receiver answered it.
    await eventually(async () => attemptsBy(worker) === 30, 'the worker to log its 30 attempts');
    expect({ api: attemptsBy(api), worker: attemptsBy(worker) }).toEqual({ api: 0, worker: 30 });
    latencies.sort((a, b) => a - b);
    recordFigures('pg-notify-first-attempt', {
      steps: 30,
      call_to_receiver_p50_ms: latencies[14],
      call_to_receiver_max_ms: latencies[29],
    });
  });

  it('a worker SIGKILLed mid-load and started again: every step delivered, each webhook-id answered once', async () => {
    const [api, doomed] = await Promise.all([startApi(), startWorker()]);
    await workerListens();
    const steps = 400;
    let completed = 0;
    const load = inParallel(Array.from({ length: steps }), 4, async () => {
      await completedStep(api);
      completed++;
    });
    await bed.receiver.waitUntil(
      (requests) => answeredSteps(requests).size >= 100,
      '100 webhooks answered before the kill',
      60_000,
    );
    // From now on every request is held unanswered, so an attempt the worker has under way when it
    // dies was never answered; the answered ones are all recorded before the kill (awaited here).
    bed.receiver.replyWith({ hold: true });
    const answeredBeforeKill = answeredPerWebhookId(bed.receiver.requests).size;
    await eventually(
      async () => (await deliveryStates(bed.db)).delivered === answeredBeforeKill,
      `the ${answeredBeforeKill} answered attempts to be recorded as delivered`,
    );
    const heldAtKill = bed.receiver.requests.filter((r) => r.answeredWith === undefined).length;
    doomed.kill('SIGKILL');
    await withDeadline(doomed.exited, 'the SIGKILLed worker to exit', 10_000);
    const completedAtKill = completed;
    bed.receiver.replyWith({ status: 204 });
    await startWorker();
    await withDeadline(load, `the ${steps} terminal calls through the API`, 120_000);
    await bed.receiver.waitUntil(
      (requests) => answeredSteps(requests).size >= steps,
      `a webhook answered for each of the ${steps} steps after the kill`,
      90_000,
    );
    await eventually(
      async () => (await deliveryStates(bed.db)).delivered === steps,
      'every delivery is recorded as delivered',
    );

    const answered = answeredPerWebhookId(bed.receiver.requests);
    const twice = [...answered].filter(([, times]) => times > 1).map(([id]) => id);
    expect({ lost: steps - answered.size, twice }).toEqual({ lost: 0, twice: [] });
    expect(await deliveryStates(bed.db)).toEqual({ delivered: steps });
    expect(completedAtKill).toBeLessThan(steps); // the kill came mid-load
    recordFigures('pg-notify-sigkill-worker', {
      steps,
      answered_before_kill: answeredBeforeKill,
      held_at_kill: heldAtKill,
      completed_at_kill: completedAtKill,
    });
  }, 240_000);

  it("the worker's database connections cut (TCP proxy) while steps complete: calls answer, nothing lost, and it listens again", async () => {
    const target = new URL(bed.db.url);
    const proxy = await TcpProxy.start({
      host: target.hostname,
      port: Number(target.port || 5432),
    });
    try {
      const viaProxy = new URL(bed.db.url);
      viaProxy.port = String(proxy.port);
      const api = await startApi();
      const worker = await startWorker({ DATABASE_URL: viaProxy.href });
      await workerListens();
      await completedStep(api);
      await bed.receiver.waitForRequests(1);

      proxy.reset(); // every connection of the worker, its LISTEN one included, is cut
      await worker.waitFor(
        (line) => line.message.startsWith('The PostgreSQL LISTEN/NOTIFY connection is lost'),
        "the worker's warning that its LISTEN connection is lost",
      );
      // The API is not behind the proxy: its calls answer as ever (its NOTIFYs reach nobody).
      const during = await Promise.all(
        Array.from({ length: 20 }, () =>
          withDeadline(completedStep(api), 'a terminal call while the worker is cut off', 10_000),
        ),
      );
      await proxy.heal();
      await worker.waitFor(
        (line) => line.message === 'The PostgreSQL LISTEN/NOTIFY connection is back',
        "the worker's LISTEN connection to come back",
      );
      await workerListens();
      const after = await Promise.all(Array.from({ length: 20 }, () => completedStep(api)));
      const all = new Set(during.concat(after));
      await bed.receiver.waitUntil(
        (requests) => [...all].every((id) => answeredSteps(requests).has(id)),
        'the webhooks of the 40 steps completed during and after the cut',
        60_000,
      );
      expect(answeredPerWebhookId(bed.receiver.requests).size).toBe(41);
      expect(bed.receiver.requests).toHaveLength(41);

      // A stop never waits on a connection that does not answer: frozen, the worker still exits 0.
      proxy.freeze();
      worker.kill('SIGTERM');
      expect(await withDeadline(worker.exited, 'the worker to exit after SIGTERM', 15_000)).toBe(0);
    } finally {
      await proxy.close();
    }
  }, 180_000);

  it('the notify connections terminated by PostgreSQL mid-load: every call answers 200, every step is delivered, both reconnect', async () => {
    const [api, worker] = await Promise.all([startApi(), startWorker()]);
    await workerListens();
    const steps = 200;
    let terminated = 0;
    const load = inParallel(Array.from({ length: steps }), 4, async (_, index) => {
      if (index === 50) {
        const rows = await bed.db.query<{ ok: boolean }>(
          `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
            WHERE application_name = 'stephook notify' AND datname = current_database()`,
        );
        terminated = rows.length;
      }
      await completedStep(api);
    });
    await withDeadline(load, `the ${steps} terminal calls, each answered 200`, 120_000);
    await bed.receiver.waitUntil(
      (requests) => answeredSteps(requests).size >= steps,
      `a webhook for each of the ${steps} steps`,
      60_000,
    );
    expect(terminated).toBe(2); // the API's (it sends) and the worker's (it listens)
    for (const process of [api, worker]) {
      await process.waitFor(
        (line) => line.message === 'The PostgreSQL LISTEN/NOTIFY connection is back',
        'the notify connection to come back',
      );
    }
    await workerListens();
    expect(answeredPerWebhookId(bed.receiver.requests).size).toBe(steps);
    expect(bed.receiver.requests).toHaveLength(steps);
  }, 180_000);
});

describe('PgDeliveryNotifier on a real PostgreSQL (services)', () => {
  let db: TestDatabase;
  const notifiers: PgDeliveryNotifier[] = [];
  const notifier = async (delivers: boolean) => {
    const created = new PgDeliveryNotifier({ dialect: 'postgres', url: db.url }, delivers);
    notifiers.push(created);
    await created.onApplicationBootstrap();
    return created;
  };
  beforeEach(async () => (db = await freshPostgres()));
  afterEach(async () => {
    for (const created of notifiers.splice(0)) await created.onApplicationShutdown();
    await db.drop();
  });

  it("an announce wakes another process's listener, one NOTIFY per turn, and never its own", async () => {
    const sender = await notifier(false);
    const listener = await notifier(true);
    // The listener's first wake (for what was announced before it listened) comes and goes first.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    let listenerWakes = 0;
    let senderWakes = 0;
    sender.onAnnounced(() => senderWakes++);
    listener.onAnnounced(() => listenerWakes++);

    for (let i = 0; i < 25; i++) sender.announce(); // in one turn: one NOTIFY
    await eventually(async () => listenerWakes === 1, "the listener's wake after the announces");
    expect({ sent: sender.sent, heard: listener.heard }).toEqual({ sent: 1, heard: 1 });

    // Its own NOTIFY reaches its own connection first, then the sender's: only the second counts.
    const probe = await listenTo(db);
    try {
      listener.announce();
      await eventually(async () => probe.heard() === 1, "the probe to hear the listener's NOTIFY");
      sender.announce();
      await eventually(async () => probe.heard() === 2, "the probe to hear the sender's NOTIFY");
    } finally {
      await probe.end();
    }
    await eventually(async () => listener.heard >= 2, "the listener to hear the sender's second");
    await eventually(async () => listenerWakes === 2, 'the listener to wake for it');
    expect({ heard: listener.heard, sent: listener.sent }).toEqual({ heard: 2, sent: 1 });
    expect(senderWakes).toBe(0); // a process that does not deliver does not listen
  });

  it('a connection that cannot be opened costs the start at most its connect timeout, and the close returns at once', async () => {
    const unreachable = new PgDeliveryNotifier(
      { dialect: 'postgres', url: 'postgres://stephook@127.0.0.1:1/none' },
      true,
    );
    await withDeadline(unreachable.onApplicationBootstrap(), 'the start without PostgreSQL', 5_000);
    expect(unreachable.connected).toBe(false);
    unreachable.announce(); // dropped: the poll finds the work
    await withDeadline(unreachable.onApplicationShutdown(), 'the close', 2_000);
  });

  it('is inert on SQLite', async () => {
    const inert = new PgDeliveryNotifier({ dialect: 'sqlite', path: ':memory:' }, true);
    await inert.onApplicationBootstrap();
    inert.announce();
    expect({ enabled: inert.enabled, connected: inert.connected }).toEqual({
      enabled: false,
      connected: false,
    });
    await inert.onApplicationShutdown();
  });
});
