import { ensureBuilt, ServerProcess } from '../helpers/server-process.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { ReceivedRequest, WebhookReceiver } from '../helpers/webhook-receiver.js';
import { recordFigures } from './figures.js';
import { eventually, freshPostgres, freshRedis, TestDatabase } from './services.js';

/**
 * Dependency outages under steady load: stephook's connection to PostgreSQL (or Redis) runs
 * through a TCP proxy that freezes (traffic held, sockets open) or resets (connections killed, new
 * ones refused) for 8 s while clients keep creating and completing steps. Every call must answer
 * within 5 s, never 500; a 503 carries Retry-After; the service heals by itself; and every step
 * that committed a terminal status is delivered exactly once.
 */
const REDIS_DB = 12;
const OUTAGE_MS = 8_000;
const CLIENTS = 6;
const TERMINAL = ['success', 'error', 'cancel'] as const;
const BODIES: Record<(typeof TERMINAL)[number], object> = {
  success: { stop_reason: 'end_turn' },
  error: { error_type: 'tool', error_message: 'boom' },
  cancel: {},
};

interface Call {
  route: string;
  status: number;
  ms: number;
  retryAfter: string | null;
}

type Api = ServerProcess & { baseUrl: string };

async function timedPost(
  api: Api,
  route: string,
  path: string,
  body: object,
): Promise<{ call: Call; json: unknown }> {
  const started = performance.now();
  let status = 0;
  let retryAfter: string | null = null;
  let json: unknown = null;
  try {
    const response = await fetch(`${api.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      // Far past the 5 s bound: a hang is measured, not cut short.
      signal: AbortSignal.timeout(30_000),
    });
    status = response.status;
    retryAfter = response.headers.get('retry-after');
    json = await response.json();
  } catch {
    status = -1;
  }
  return { call: { route, status, ms: performance.now() - started, retryAfter }, json };
}

/** Clients that create and complete steps back to back until `stop()`. */
function steadyLoad(api: Api): { calls: Call[]; stop: () => Promise<void> } {
  const calls: Call[] = [];
  let running = true;
  let turn = 0;
  const client = async () => {
    while (running) {
      const created = await timedPost(api, 'create', '/v1/steps', { agent_id: 'faults' });
      calls.push(created.call);
      if (created.call.status !== 201) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      const stepId = (created.json as { id: string }).id;
      const kind = TERMINAL[turn++ % TERMINAL.length];
      calls.push((await timedPost(api, kind, `/v1/steps/${stepId}/${kind}`, BODIES[kind])).call);
    }
  };
  const clients = Array.from({ length: CLIENTS }, client);
  return {
    calls,
    stop: async () => {
      running = false;
      await Promise.all(clients);
    },
  };
}

const stepIdOf = (request: ReceivedRequest) =>
  (JSON.parse(request.rawBody.toString('utf8')) as { step_id: string }).step_id;

describe('Dependency outages under load (services)', () => {
  let db: TestDatabase;
  let receiver: WebhookReceiver;
  let proxy: TcpProxy;
  let api: Api | null = null;

  beforeAll(() => ensureBuilt());

  beforeEach(async () => {
    db = await freshPostgres();
    receiver = await WebhookReceiver.start();
    // Slow enough that attempts are on the wire when the outage starts, to be recorded after it.
    receiver.replyWith({ status: 204, delayMs: 100 });
  });

  afterEach(async () => {
    if (api) {
      api.kill('SIGKILL');
      await api.exited;
      api = null;
    }
    await proxy.close();
    await receiver.close();
    await db.drop();
  });

  const baseEnv = () => ({
    STEP_COMPLETE_WEBHOOK: receiver.url(),
    STEP_COMPLETE_TIMEOUT_MS: '5000',
    STEP_COMPLETE_RETRY_SCHEDULE: '1s,2s,5s',
  });

  /** Runs the load through an outage of `fault` and checks every promise of the suite. */
  async function throughOutage(
    name: string,
    fault: 'freeze' | 'reset',
    duringOutage: () => Promise<void> = () => Promise.resolve(),
  ): Promise<void> {
    const load = steadyLoad(api!);
    await eventually(async () => load.calls.length >= 100, 'the load is under way', 10_000);
    const outageEnds = Date.now() + OUTAGE_MS;
    if (fault === 'freeze') proxy.freeze();
    else proxy.reset();
    await duringOutage();
    await new Promise((resolve) => setTimeout(resolve, outageEnds - Date.now()));
    await proxy.heal();
    const healedAt = load.calls.length;
    await eventually(
      async () => load.calls.slice(healedAt).filter((call) => call.status === 200).length >= 30,
      'terminal calls succeed again after the outage',
      20_000,
    );
    await load.stop();

    const { calls } = load;
    const unavailable = calls.filter((call) => call.status === 503);
    const slowest = Math.max(...calls.map((call) => call.ms));
    const unexpected = calls.filter((call) => ![200, 201, 503].includes(call.status));
    expect(unexpected).toEqual([]); // no 500, no dropped connection, no client timeout
    expect(slowest).toBeLessThan(5_000);
    expect(
      unavailable.every((call) => call.retryAfter !== null && Number(call.retryAfter) > 0),
    ).toBe(true);

    // Every step whose terminal status committed (whatever its caller heard) gets one webhook.
    const completed = async () =>
      (await db.query<{ id: string }>("SELECT id FROM steps WHERE status <> 'pending'")).map(
        (row) => row.id,
      );
    await eventually(
      async () => {
        const received = new Set(receiver.requests.map(stepIdOf));
        return (await completed()).every((id) => received.has(id));
      },
      'every committed step is received',
      60_000,
    );
    await eventually(
      async () =>
        (await db.query("SELECT 1 FROM webhook_deliveries WHERE status <> 'delivered'")).length ===
        0,
      'every delivery is recorded as delivered',
      30_000,
    );
    const committed = await completed();
    const sentTwice = receiver.requests.length - new Set(receiver.requests.map(stepIdOf)).size;
    expect(new Set(receiver.requests.map(stepIdOf))).toEqual(new Set(committed)); // 0 lost
    expect(sentTwice).toBe(0);
    const attempts = await db.query<{ n: string }>(
      'SELECT COUNT(*) AS n FROM webhook_delivery_attempts',
    );
    expect(Number(attempts[0].n)).toBe(committed.length); // every sent attempt recorded, once
    expect((await fetch(`${api!.baseUrl}/ready`)).status).toBe(200);

    recordFigures(`outage-${name}`, {
      calls: calls.length,
      max_latency_ms: Math.round(slowest),
      answered_503: unavailable.length,
      answered_5xx_other: calls.filter((call) => call.status >= 500 && call.status !== 503).length,
      committed_steps: committed.length,
      lost: committed.filter((id) => !receiver.requests.some((r) => stepIdOf(r) === id)).length,
      sent_twice: sentTwice,
    });
  }

  describe.each(['freeze', 'reset'] as const)('PostgreSQL %s', (fault) => {
    it(`every call answers within 5 s through an ${OUTAGE_MS / 1000} s ${fault}, and every step is delivered once`, async () => {
      proxy = await TcpProxy.start({ host: '127.0.0.1', port: 5432 });
      const proxied = new URL(db.url);
      proxied.port = String(proxy.port);
      api = await ServerProcess.start({ ...baseEnv(), DATABASE_URL: proxied.href });
      await throughOutage(`postgres-${fault}`, fault);
      // /ready said 503 while the database was away (checked by its own test below) and 200 now.
    }, 180_000);
  });

  describe.each(['freeze', 'reset'] as const)('Redis %s (BullMQ delivery)', (fault) => {
    it(`terminal calls never wait on Redis through an ${OUTAGE_MS / 1000} s ${fault}, and every step is delivered once`, async () => {
      const redisUrl = new URL(await freshRedis(REDIS_DB));
      proxy = await TcpProxy.start({
        host: redisUrl.hostname,
        port: Number(redisUrl.port || 6379),
      });
      redisUrl.port = String(proxy.port);
      api = await ServerProcess.start({
        ...baseEnv(),
        DATABASE_URL: db.url,
        REDIS_URL: redisUrl.href,
      });
      await throughOutage(`redis-${fault}`, fault);
    }, 180_000);
  });

  it('/ready follows the database both ways: 503 while it is frozen, 200 once it answers', async () => {
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: 5432 });
    const proxied = new URL(db.url);
    proxied.port = String(proxy.port);
    api = await ServerProcess.start({ ...baseEnv(), DATABASE_URL: proxied.href });
    expect((await fetch(`${api.baseUrl}/ready`)).status).toBe(200);
    proxy.freeze();
    const started = performance.now();
    const during = await fetch(`${api.baseUrl}/ready`);
    expect(during.status).toBe(503);
    expect(performance.now() - started).toBeLessThan(5_000);
    const created = await fetch(`${api.baseUrl}/v1/steps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(created.status).toBe(503);
    expect(await created.json()).toMatchObject({
      statusCode: 503,
      message: expect.stringContaining('database is unavailable') as unknown,
    });
    expect((await fetch(`${api.baseUrl}/health`)).status).toBe(200);
    await proxy.heal();
    await eventually(
      async () => (await fetch(`${api!.baseUrl}/ready`)).status === 200,
      '/ready is 200 again',
      15_000,
    );
  }, 60_000);
});
