import { randomBytes } from 'node:crypto';
import {
  BREAKER_OPENS_AFTER,
  probeSpacing,
} from '../../src/webhook/endpoints/endpoint-throttles.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import type { ReceivedRequest } from '../helpers/webhook-receiver.js';
import { recordFigures } from './figures.js';
import { Api, call, eventually, inParallel, json, useProcessBed } from './services.js';

/**
 * SPEC §9 "Isolation" on PostgreSQL with two delivering processes (API processes that deliver
 * themselves, no REDIS_URL: the database is all they share), counted at real receivers.
 */
const REDIS_DB = 9; // emptied by the bed; only the BullMQ case gives it to its processes

/** Every attempt may be retried a second later for as long as any test here lasts. */
const RETRY_SCHEDULE = Array.from({ length: 40 }, () => '1s').join(',');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function createEndpoint(api: Api, body: object): Promise<string> {
  return (await json<{ id: string }>(await call(api, 'POST', '/v1/webhook-endpoints', body), 201))
    .id;
}

/**
 * A path of this test's own: the machine is shared, and a process another suite left behind may
 * still be sending to a port that a receiver here now listens on. Only requests to it count.
 */
const ownPath = (name: string) => `/${name}-${randomBytes(6).toString('hex')}`;
const to = (path: string) => (requests: readonly ReceivedRequest[]) =>
  requests.filter((received) => received.path === path);

/** The most requests of `requests` that were open at once (arrived, not yet over). */
function mostAtOnce(requests: readonly ReceivedRequest[]): number {
  const edges = requests.flatMap((r) => [
    { at: r.receivedAt, delta: 1 },
    { at: r.closedAt ?? Infinity, delta: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let open = 0;
  let most = 0;
  for (const { delta } of edges) most = Math.max(most, (open += delta));
  return most;
}

const webhookId = (received: ReceivedRequest) => String(received.headers['webhook-id']);
const stepIdOf = (received: ReceivedRequest) =>
  (JSON.parse(received.rawBody.toString()) as { step_id: string }).step_id;

/** How many requests each webhook-id got that were answered 2xx. */
function answered2xxPerWebhook(requests: readonly ReceivedRequest[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const received of requests) {
    const status = received.answeredWith;
    if (status === undefined || status < 200 || status >= 300) continue;
    counts.set(webhookId(received), (counts.get(webhookId(received)) ?? 0) + 1);
  }
  return counts;
}

/**
 * The value of `name`'s series for `endpointId` whose other labels are `labels`, in a /metrics
 * text; null when there is none.
 */
function metricValue(
  text: string,
  name: string,
  endpointId: string,
  labels: Record<string, string> = {},
): number | null {
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...match[2].matchAll(/(\w+)="([^"]*)"/g)].map(([, key, value]) => [key, value]),
    );
    const others = Object.entries(labels).every(([key, value]) => found[key] === value);
    if (found.endpoint === endpointId && others) return Number(match[3]);
  }
  return null;
}

async function scrape(api: Api): Promise<string> {
  const response = await call(api, 'GET', '/metrics');
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return response.text();
}

describe('Isolation between endpoints: PostgreSQL, two delivering processes (services)', () => {
  const bed = useProcessBed(REDIS_DB, ({ db }) => ({
    DATABASE_URL: db.url,
    DELIVERY_WORKER: 'on',
    STEP_COMPLETE_WEBHOOK: '',
    STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8',
    STEP_COMPLETE_RETRY_SCHEDULE: RETRY_SCHEDULE,
  }));
  const startApis = (extra: Record<string, string> = {}) =>
    Promise.all([
      bed.startApi({ DELIVERY_WORKER: 'on', ...extra }),
      bed.startApi({ DELIVERY_WORKER: 'on', ...extra }),
    ]);

  let hanging: WebhookReceiver;
  beforeEach(async () => {
    hanging = await WebhookReceiver.start();
    hanging.replyWith({ hold: true });
  });
  afterEach(() => hanging.close());

  /** Pending steps created through `api`, ready for their terminal call. */
  async function createSteps(api: Api, count: number): Promise<string[]> {
    const ids: string[] = [];
    await inParallel(Array.from({ length: count }), 16, async () => {
      ids.push((await json<{ id: string }>(await call(api, 'POST', '/v1/steps', {}), 201)).id);
    });
    return ids;
  }

  it.each(['database', 'bullmq'] as const)(
    'a hanging receiver beside a fast one (%s queue): every fast webhook within 2 s, every hung one answered once after',
    async (queue) => {
      const STEPS = 200;
      const CALLS_PER_SECOND = 40; // 5 s of terminal calls
      const FAST_WITHIN_MS = 2_000;
      // With REDIS_URL every attempt is a BullMQ job: one whose endpoint has no room is delayed.
      const [apiA, apiB] = await startApis({
        STEP_COMPLETE_TIMEOUT_MS: '3000',
        ...(queue === 'bullmq' ? { REDIS_URL: bed.redisUrl } : {}),
      });
      const fastPath = ownPath('fast');
      const hangingPath = ownPath('hangs');
      const fast = () => bed.receiver.requestsTo(fastPath);
      const hung = () => hanging.requestsTo(hangingPath);
      await createEndpoint(apiA, { url: bed.receiver.url(fastPath) });
      const hangingId = await createEndpoint(apiA, { url: hanging.url(hangingPath) });
      const stepIds = await createSteps(apiA, STEPS);
      await sleep(1_100); // SPEC §9: B hears of the endpoints within a second

      // Terminal calls at a steady pace, alternating between the processes; each step's commit is
      // when its call was answered.
      const committedAt = new Map<string, number>();
      let serverErrors = 0;
      const started = Date.now();
      await Promise.all(
        stepIds.map(async (stepId, index) => {
          await sleep(started + (index * 1000) / CALLS_PER_SECOND - Date.now());
          const api = index % 2 === 0 ? apiA : apiB;
          const response = await call(api, 'POST', `/v1/steps/${stepId}/success`, {});
          if (response.status >= 500) serverErrors++;
          else if (response.status === 200) committedAt.set(stepId, Date.now());
          await response.body?.cancel();
        }),
      );
      const callsTookMs = Date.now() - started;
      await bed.receiver
        .waitUntil(
          (requests) => new Set(to(fastPath)(requests).map(stepIdOf)).size >= committedAt.size,
          `the fast endpoint's ${committedAt.size} webhooks`,
          15_000,
        )
        .catch(() => undefined); // what did not arrive is reported below, not hidden
      const latencies = fast().map(
        (received) => received.receivedAt - committedAt.get(stepIdOf(received))!,
      );
      const fastMaxMs = Math.max(...latencies);
      const late = latencies.filter((ms) => ms > FAST_WITHIN_MS).length;
      // The hang lasted all along: nothing of the hanging receiver has been answered yet.
      const hungRequests = hung().length;
      const hungAnswered = hung().filter((r) => r.answeredWith !== undefined).length;
      const fastReceived = new Set(fast().map(stepIdOf)).size;

      // The receiver answers again: every one of its deliveries is answered 2xx exactly once. The
      // requests it still holds stay unanswered: stephook gives up on them at its timeout and sends
      // them again (an answer racing that timeout would honestly count twice).
      const recoveredAt = Date.now();
      hanging.replyWith({ status: 204 });
      await hanging
        .waitUntil(
          (requests) => answered2xxPerWebhook(to(hangingPath)(requests)).size >= committedAt.size,
          `the hanging endpoint's ${committedAt.size} webhooks answered 2xx after it recovers`,
          60_000,
        )
        .catch(() => undefined); // reported below
      const hungAnsweredAfterMs = Date.now() - recoveredAt;
      await eventually(
        async () => {
          const [{ open }] = await bed.db.query<{ open: string }>(
            "SELECT COUNT(*) AS open FROM webhook_deliveries WHERE status <> 'delivered'",
          );
          return Number(open) === 0;
        },
        'every delivery of both endpoints recorded as delivered',
        30_000,
      ).catch(() => undefined);
      await sleep(1_000); // a webhook sent twice would arrive now
      const perWebhook = answered2xxPerWebhook(hung());
      const [{ deliveries }] = await bed.db.query<{ deliveries: string }>(
        'SELECT COUNT(*) AS deliveries FROM webhook_deliveries WHERE endpoint_id = $1',
        [hangingId],
      );
      const [{ undelivered }] = await bed.db.query<{ undelivered: string }>(
        "SELECT COUNT(*) AS undelivered FROM webhook_deliveries WHERE status <> 'delivered'",
      );
      const figures = {
        terminal_calls: committedAt.size,
        terminal_calls_took_ms: callsTookMs,
        answers_500_or_more: serverErrors,
        fast_received: fastReceived,
        fast_latency_max_ms: fastMaxMs,
        fast_later_than_2s: late,
        hung_requests_during_hang: hungRequests,
        hung_answered_during_hang: hungAnswered,
        hung_deliveries: Number(deliveries),
        hung_answered_2xx: perWebhook.size,
        hung_answered_2xx_more_than_once: [...perWebhook.values()].filter((n) => n > 1).length,
        hung_all_answered_after_ms: hungAnsweredAfterMs,
        undelivered: Number(undelivered),
      };
      recordFigures(`isolation-hang-postgres-${queue}`, figures);
      expect(figures.terminal_calls).toBe(STEPS);
      // The hang held: its receiver got requests (stephook kept trying) and answered none of them.
      expect(figures.hung_requests_during_hang).toBeGreaterThan(0);
      expect(figures).toEqual({
        ...figures,
        answers_500_or_more: 0,
        fast_received: STEPS,
        fast_later_than_2s: 0,
        hung_answered_during_hang: 0,
        hung_deliveries: STEPS,
        hung_answered_2xx: STEPS,
        hung_answered_2xx_more_than_once: 0,
        undelivered: 0,
      });
    },
    150_000,
  );

  it('rate_limit 20 held across both processes on a backlog of 300: within 10 % at the receiver, each webhook once', async () => {
    const STEPS = 300;
    const RATE_LIMIT = 20;
    const [apiA, apiB] = await startApis();
    const limitedPath = ownPath('limited');
    const limited = () => bed.receiver.requestsTo(limitedPath);
    // Disabled, its deliveries are held; enabling it turns them all pending at once: a backlog.
    const endpointId = await createEndpoint(apiA, {
      url: bed.receiver.url(limitedPath),
      rate_limit: RATE_LIMIT,
      disabled: true,
    });
    const stepIds = await createSteps(apiA, STEPS);
    await sleep(1_100); // SPEC §9: B hears of the endpoint and its limit within a second
    await inParallel(stepIds, 16, async (stepId, index) => {
      const api = index % 2 === 0 ? apiA : apiB;
      await json(await call(api, 'POST', `/v1/steps/${stepId}/success`, {}), 200);
    });
    await json(
      await call(apiB, 'PATCH', `/v1/webhook-endpoints/${endpointId}`, { disabled: false }),
      200,
    );

    const WINDOW_MS = 10_000;
    await bed.receiver.waitUntil(
      (requests) => to(limitedPath)(requests).length > 0,
      'the first webhook of the rate-limited endpoint',
      10_000,
    );
    const first = limited()[0].receivedAt;
    // The first second is skipped: the limit lets a paused endpoint catch up a little (its burst),
    // and what is measured is the steady rate the receiver sees afterwards.
    const windowStart = first + 1_000;
    const windowEnd = windowStart + WINDOW_MS;
    await bed.receiver.waitUntil(
      (requests) => to(limitedPath)(requests).some((r) => r.receivedAt >= windowEnd),
      `a request after the ${WINDOW_MS} ms measuring window (the backlog must outlast it)`,
      30_000,
    );
    const inWindow = limited().filter(
      (r) => r.receivedAt >= windowStart && r.receivedAt < windowEnd,
    ).length;
    const measured = inWindow / (WINDOW_MS / 1000);
    await bed.receiver
      .waitUntil(
        (requests) => new Set(to(limitedPath)(requests).map(webhookId)).size >= STEPS,
        `all ${STEPS} webhooks of the rate-limited endpoint`,
        30_000,
      )
      .catch(() => undefined); // reported below
    await sleep(1_000); // a webhook sent twice would arrive now
    const perWebhook = answered2xxPerWebhook(limited());
    // Both processes took their part: the limit was held across them, not by one alone.
    const attemptsBy = await Promise.all(
      [apiA, apiB].map(
        async (api) =>
          metricValue(await scrape(api), 'stephook_delivery_attempts_total', endpointId, {
            outcome: 'success',
          }) ?? 0,
      ),
    );
    const figures = {
      backlog: STEPS,
      rate_limit: RATE_LIMIT,
      measured_per_second: measured,
      first_second_requests: limited().filter((r) => r.receivedAt < windowStart).length,
      received: perWebhook.size,
      received_more_than_once: [...perWebhook.values()].filter((n) => n > 1).length,
      requests: limited().length,
      attempts_process_a: attemptsBy[0],
      attempts_process_b: attemptsBy[1],
    };
    recordFigures('isolation-rate-limit-postgres', figures);
    expect(figures.measured_per_second).toBeGreaterThanOrEqual(RATE_LIMIT * 0.9);
    expect(figures.measured_per_second).toBeLessThanOrEqual(RATE_LIMIT * 1.1);
    expect(figures.attempts_process_a).toBeGreaterThan(0);
    expect(figures.attempts_process_b).toBeGreaterThan(0);
    expect(figures).toEqual({
      ...figures,
      received: STEPS,
      received_more_than_once: 0,
      requests: STEPS,
    });
  }, 120_000);

  it('the circuit breaker opens and closes in /metrics, one probe at a time meanwhile, nothing lost', async () => {
    const STEPS = 30;
    const TIMEOUT_MS = 1_000;
    const OBSERVE_OPEN_MS = 12_000;
    const apis = await startApis({ STEP_COMPLETE_TIMEOUT_MS: String(TIMEOUT_MS) });
    const [apiA, apiB] = apis;
    const downPath = ownPath('down');
    const down = () => hanging.requestsTo(downPath);
    const endpointId = await createEndpoint(apiA, { url: hanging.url(downPath) });
    await sleep(1_100); // SPEC §9: B hears of the endpoint within a second
    const stepIds = await createSteps(apiA, STEPS);
    await inParallel(stepIds, 8, async (stepId, index) => {
      const api = index % 2 === 0 ? apiA : apiB;
      await json(await call(api, 'POST', `/v1/steps/${stepId}/success`, {}), 200);
    });

    const breakerOpen = async (api: Api) =>
      metricValue(await scrape(api), 'stephook_endpoint_breaker_open', endpointId);
    const transitions = async (to: string) =>
      (
        await Promise.all(
          apis.map(
            async (api) =>
              metricValue(
                await scrape(api),
                'stephook_endpoint_breaker_transitions_total',
                endpointId,
                { to },
              ) ?? 0,
          ),
        )
      ).reduce((a, b) => a + b, 0);
    await Promise.race(
      apis.map((api) =>
        api.waitFor(
          (line) => line.message.includes(endpointId) && line.message.includes('breaker is open'),
          `the breaker of ${endpointId} to open after ${BREAKER_OPENS_AFTER} timeouts`,
          30_000,
        ),
      ),
    );
    const [{ opened_at }] = await bed.db.query<{ opened_at: string }>(
      'SELECT breaker_opened_at AS opened_at FROM webhook_endpoint_throttles WHERE endpoint_id = $1',
      [endpointId],
    );
    const openedAt = Date.parse(opened_at);
    await eventually(
      async () => (await Promise.all(apis.map(breakerOpen))).every((value) => value === 1),
      `stephook_endpoint_breaker_open{endpoint="${endpointId}"} 1 in /metrics of both processes`,
      5_000,
    );
    await sleep(openedAt + OBSERVE_OPEN_MS - Date.now());
    // Every request that arrived once it had opened is a probe (attempts claimed before it opened
    // reach the receiver within a few ms of their claim); no two may be open at once.
    const probes = down().filter((r) => r.receivedAt >= openedAt + 100);
    const maxProbesAtOnce = mostAtOnce(probes);
    const probeGaps = probes.slice(1).map((r, index) => r.receivedAt - probes[index].receivedAt);
    const states = Object.fromEntries(
      (
        await bed.db.query<{ status: string; n: string }>(
          'SELECT status, COUNT(*) AS n FROM webhook_deliveries GROUP BY status',
        )
      ).map((row) => [row.status, Number(row.n)]),
    );
    const openTransitions = await transitions('open');
    const view = await json<{ breaker: { state: string } }>(
      await call(apiB, 'GET', `/v1/webhook-endpoints/${endpointId}`),
      200,
    );

    // The probe it holds times out (see the first test); the next one closes the breaker.
    const recoveredAt = Date.now();
    hanging.replyWith({ status: 204 });
    await eventually(
      async () => (await Promise.all(apis.map(breakerOpen))).every((value) => value === 0),
      `stephook_endpoint_breaker_open{endpoint="${endpointId}"} 0 in /metrics of both processes`,
      30_000,
    );
    const closedAfterMs = Date.now() - recoveredAt;
    await hanging
      .waitUntil(
        (requests) => answered2xxPerWebhook(to(downPath)(requests)).size >= STEPS,
        `all ${STEPS} webhooks answered 2xx once the receiver answers`,
        30_000,
      )
      .catch(() => undefined); // reported below
    await sleep(1_000); // a webhook sent twice would arrive now
    const perWebhook = answered2xxPerWebhook(down());
    // Each probe that fails (at its timeout) spaces the next by half as long as the breaker has
    // been open: how much later than that each next probe came.
    const sinceOpening = probes.filter((r) => r.receivedAt < recoveredAt);
    const probesLateMs = sinceOpening.slice(1).map((r, index) => {
      const failedAt = sinceOpening[index].receivedAt + TIMEOUT_MS;
      return r.receivedAt - (failedAt + probeSpacing(openedAt, failedAt));
    });
    const recordedLate = apis.flatMap((api) =>
      api.lines.filter((line) => line.message.includes('cannot be recorded yet')),
    );
    // The timeline: when each request after the opening arrived, from the opening.
    const timeline = Object.fromEntries(
      sinceOpening.map((r, index) => [`probe_${index + 1}_at_ms`, r.receivedAt - openedAt]),
    );
    const figures = {
      timeout_ms: TIMEOUT_MS,
      requests_before_open: down().filter((r) => r.receivedAt < openedAt).length,
      probes_while_open: probes.length,
      max_probes_at_once: maxProbesAtOnce,
      min_probe_gap_ms: Math.min(...probeGaps),
      max_probe_gap_ms: Math.max(...probeGaps),
      max_probe_late_ms: Math.max(...probesLateMs),
      attempts_not_recorded_at_first_write: recordedLate.length,
      open_in_endpoint_view: view.breaker.state === 'open' ? 1 : 0,
      pending_while_open: states.pending ?? 0,
      failed_while_open: states.failed ?? 0,
      transitions_to_open: openTransitions,
      transitions_to_closed: await transitions('closed'),
      closed_in_metrics_after_ms: closedAfterMs,
      answered_2xx: perWebhook.size,
      answered_2xx_more_than_once: [...perWebhook.values()].filter((n) => n > 1).length,
    };
    recordFigures('isolation-breaker-postgres', { ...figures, ...timeline });
    // Probes were seen (else nothing about spacing was measured), spaced by more than the timeout.
    expect(figures.probes_while_open).toBeGreaterThanOrEqual(2);
    expect(figures.min_probe_gap_ms).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(figures.pending_while_open).toBeGreaterThan(0);
    expect(figures).toEqual({
      ...figures,
      max_probes_at_once: 1,
      open_in_endpoint_view: 1,
      failed_while_open: 0,
      transitions_to_open: 1,
      transitions_to_closed: 1,
      answered_2xx: STEPS,
      answered_2xx_more_than_once: 0,
    });
    // Spaced as documented, not later: a probe whose result cannot be written waits (and with it
    // the next probe) for the write to be retried.
    expect(recordedLate.map((line) => line.message)).toEqual([]);
    expect(figures.max_probe_late_ms).toBeLessThanOrEqual(500);
  }, 120_000);
});
