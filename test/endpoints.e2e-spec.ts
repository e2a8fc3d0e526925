import request from 'supertest';
import { Webhook } from 'standardwebhooks';
import { EndpointRegistry } from '../src/webhook/endpoints/endpoint-registry.js';
import type { DeliveryJson } from '../src/webhook/deliveries/delivery.presenter.js';
import { eventually } from './helpers/deadline.js';
import type { ReceivedRequest } from './helpers/webhook-receiver.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';
import { useWebhookTestbed } from './helpers/webhook-testbed.js';

interface CreatedEndpoint {
  id: string;
  secret: string;
  url: string;
  filter: Record<string, string[]> | null;
}

/** The step id in a received body, once its signature checks out with `secret`. */
function verifiedStepId(secret: string, received: ReceivedRequest): string {
  const headers = Object.fromEntries(
    Object.entries(received.headers).map(([name, value]) => [name, String(value)]),
  );
  const body = new Webhook(secret).verify(received.rawBody.toString('utf8'), headers) as {
    step_id: string;
  };
  return body.step_id;
}

/** SPEC §9: many endpoints, each with its own filter, secret and state. */
describe('Webhook endpoints (e2e)', () => {
  const bed = useWebhookTestbed();
  /** The receivers here listen on loopback, which API endpoints may reach only when allowed. */
  const LOOPBACK_ALLOWED = { STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8' };

  async function createEndpoint(body: Record<string, unknown>): Promise<CreatedEndpoint> {
    const response = await request(bed.app.server)
      .post('/v1/webhook-endpoints')
      .send(body)
      .expect(201);
    return response.body as CreatedEndpoint;
  }

  async function deliveriesOf(endpointId: string, status?: string): Promise<DeliveryJson[]> {
    const query = `endpoint_id=${endpointId}&limit=1000${status ? `&status=${status}` : ''}`;
    const response = await request(bed.app.server)
      .get(`/v1/webhook-deliveries?${query}`)
      .expect(200);
    return response.body as DeliveryJson[];
  }

  it('sends each endpoint exactly the steps its filter matches, signed with its own secret', async () => {
    await bed.start({ ...LOOPBACK_ALLOWED, STEP_COMPLETE_RETRY_SCHEDULE: 'none' });
    const billing = await createEndpoint({
      url: bed.receiver.url('/billing'),
      filter: { statuses: ['success'], agent_ids: ['agent-a', 'agent-b'] },
      payload: 'full',
    });
    const alerts = await createEndpoint({
      url: bed.receiver.url('/alerts'),
      filter: { statuses: ['failed', 'cancelled'] },
      headers: { Authorization: 'Bearer alerts-token' },
    });
    const tenant = await createEndpoint({
      url: bed.receiver.url('/tenant'),
      // null, as the OpenAPI document allows for every optional field: the same as left out.
      filter: { project_ids: ['tenant-1'], tags: ['prod', 'eu'], agent_ids: null },
    });
    expect(tenant.filter).toEqual({ project_ids: ['tenant-1'], tags: ['prod', 'eu'] });
    expect(new Set([billing.secret, alerts.secret, tenant.secret]).size).toBe(3);

    const statuses = ['success', 'failed', 'cancelled'] as const;
    const agents = ['agent-a', 'agent-b', 'agent-c'];
    const tagSets = [['prod', 'eu'], ['prod'], ['eu', 'prod', 'x'], []];
    const expected = { billing: [] as string[], alerts: [] as string[], tenant: [] as string[] };
    const all: string[] = [];
    for (let i = 0; i < 50; i++) {
      const step = await bed.steps.create({
        agent_id: agents[i % 3],
        project_id: i % 3 === 0 ? 'tenant-1' : 'tenant-2',
        tags: tagSets[i % 4],
      });
      const status = statuses[i % 5 === 0 ? 1 : i % 7 === 0 ? 2 : 0];
      await bed.steps.complete(step.id, status).expect(200);
      all.push(step.id);
      if (status === 'success' && (step.agent_id === 'agent-a' || step.agent_id === 'agent-b'))
        expected.billing.push(step.id);
      if (status !== 'success') expected.alerts.push(step.id);
      if (step.project_id === 'tenant-1' && ['prod', 'eu'].every((tag) => step.tags.includes(tag)))
        expected.tenant.push(step.id);
    }
    // Every part of the filters is exercised by this mix.
    expect(expected.billing.length).toBeGreaterThan(0);
    expect(expected.billing.length).toBeLessThan(50);
    expect(expected.alerts.length).toBeGreaterThan(0);
    expect(expected.tenant.length).toBeGreaterThan(0);
    expect(expected.tenant.length).toBeLessThan(25);

    const total =
      all.length + expected.billing.length + expected.alerts.length + expected.tenant.length;
    await bed.receiver.waitForRequests(total);
    // Nothing else arrives after: each delivery was made once.
    const received = (path: string) => bed.receiver.requestsTo(path);
    expect(bed.receiver.requests).toHaveLength(total);
    const sorted = (ids: string[]) => [...ids].sort();
    expect(sorted(received('/billing').map((r) => verifiedStepId(billing.secret, r)))).toEqual(
      sorted(expected.billing),
    );
    expect(sorted(received('/alerts').map((r) => verifiedStepId(alerts.secret, r)))).toEqual(
      sorted(expected.alerts),
    );
    expect(sorted(received('/tenant').map((r) => verifiedStepId(tenant.secret, r)))).toEqual(
      sorted(expected.tenant),
    );
    // The environment endpoint (no filter) hears every step, unsigned as configured.
    expect(sorted(received('/hook').map((r) => JSON.parse(r.rawBody.toString()).step_id))).toEqual(
      sorted(all),
    );
    // A secret verifies its own endpoint's requests only.
    expect(() => verifiedStepId(alerts.secret, received('/billing')[0])).toThrow();
    // Each endpoint's own payload and headers.
    expect(JSON.parse(received('/billing')[0].rawBody.toString())).toMatchObject({
      type: 'step.completed',
      status: 'success',
    });
    expect(Object.keys(JSON.parse(received('/tenant')[0].rawBody.toString()))).toEqual(['step_id']);
    expect(received('/alerts')[0].headers.authorization).toBe('Bearer alerts-token');
    // One webhook-id per endpoint for the same step.
    const firstAlert = verifiedStepId(alerts.secret, received('/alerts')[0]);
    const ids = bed.receiver.requests
      .filter((r) => JSON.parse(r.rawBody.toString()).step_id === firstAlert)
      .map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size).toBe(ids.length);
    expect((await deliveriesOf(billing.id)).length).toBe(expected.billing.length);
  });

  it('signs with the old and the new secret during a rotation, with the new one only after', async () => {
    await bed.start({ ...LOOPBACK_ALLOWED, STEP_COMPLETE_WEBHOOK: '' });
    const endpoint = await createEndpoint({ url: bed.receiver.url('/rotating') });
    const rotated = await request(bed.app.server)
      .post(`/v1/webhook-endpoints/${endpoint.id}/secret/rotate`)
      .expect(200);
    const newSecret = (rotated.body as { secret: string }).secret;
    expect(newSecret).not.toBe(endpoint.secret);
    const shown = await request(bed.app.server)
      .get(`/v1/webhook-endpoints/${endpoint.id}/secret`)
      .expect(200);
    expect(shown.body).toEqual({ secret: newSecret });

    const first = await bed.steps.create();
    await bed.steps.complete(first.id, 'success').expect(200);
    await bed.receiver.waitForRequests(1);
    const during = bed.receiver.requests[0];
    expect(String(during.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verifiedStepId(endpoint.secret, during)).toBe(first.id);
    expect(verifiedStepId(newSecret, during)).toBe(first.id);

    // 24 hours later, as far as the stored secrets go: the old one has run out.
    await bed.app.dataSource.query(
      `UPDATE webhook_endpoints SET secrets = json_set(secrets, '$[1].expires_at', '2000-01-01T00:00:00.000Z')`,
    );
    await bed.app.app.get(EndpointRegistry).reload();
    const second = await bed.steps.create();
    await bed.steps.complete(second.id, 'success').expect(200);
    await bed.receiver.waitForRequests(2);
    const after = bed.receiver.requests[1];
    expect(String(after.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(verifiedStepId(newSecret, after)).toBe(second.id);
    expect(() => verifiedStepId(endpoint.secret, after)).toThrow();
  });

  it('carries at most 3 signatures however often it is rotated: the newest and the 2 rotated out last', async () => {
    await bed.start({ ...LOOPBACK_ALLOWED, STEP_COMPLETE_WEBHOOK: '' });
    const endpoint = await createEndpoint({ url: bed.receiver.url('/rotated') });
    const secrets = [endpoint.secret];
    for (let i = 0; i < 400; i++) {
      const rotated = await request(bed.app.server)
        .post(`/v1/webhook-endpoints/${endpoint.id}/secret/rotate`)
        .expect(200);
      secrets.push((rotated.body as { secret: string }).secret);
    }
    const step = await bed.steps.create();
    await bed.steps.complete(step.id, 'success').expect(200);
    await bed.receiver.waitForRequests(1);
    const [received] = bed.receiver.requests;
    expect(String(received.headers['webhook-signature']).split(' ')).toHaveLength(3);
    for (const secret of secrets.slice(-3)) expect(verifiedStepId(secret, received)).toBe(step.id);
    expect(() => verifiedStepId(secrets.at(-4)!, received)).toThrow();
    expect(() => verifiedStepId(secrets[0], received)).toThrow();
    // A Node receiver took the request (with 402 signatures it answered 431 before the cap).
    await eventually(
      async () => (await deliveriesOf(endpoint.id, 'delivered')).length === 1,
      'the delivery to be recorded as delivered',
    );
  });

  it('signs an endpoint that was rotated often before the cap with at most 3 secrets', async () => {
    await bed.start({ ...LOOPBACK_ALLOWED, STEP_COMPLETE_WEBHOOK: '' });
    const endpoint = await createEndpoint({ url: bed.receiver.url('/legacy') });
    // As an earlier version stored it after 401 rotations within a day: the newest and 401 others.
    const now = Date.now();
    const stored = [{ secret: endpoint.secret, expires_at: null as string | null }];
    for (let i = 0; i < 401; i++) {
      const secret = `whsec_${Buffer.alloc(32, i % 256).toString('base64')}`;
      stored.push({ secret, expires_at: new Date(now + 86_000_000 - i * 1_000).toISOString() });
    }
    await bed.app.dataSource.query('UPDATE webhook_endpoints SET secrets = ? WHERE id = ?', [
      JSON.stringify(stored),
      endpoint.id,
    ]);
    await bed.app.app.get(EndpointRegistry).reload();
    const step = await bed.steps.create();
    await bed.steps.complete(step.id, 'success').expect(200);
    await bed.receiver.waitForRequests(1);
    const [received] = bed.receiver.requests;
    expect(String(received.headers['webhook-signature']).split(' ')).toHaveLength(3);
    expect(verifiedStepId(endpoint.secret, received)).toBe(step.id);
    expect(verifiedStepId(stored[1].secret, received)).toBe(step.id);
    expect(verifiedStepId(stored[2].secret, received)).toBe(step.id);
  });

  it('shows header values only in the answer that set them, masks them everywhere else, never stores the mask, and never logs them', async () => {
    await bed.start({ ...LOOPBACK_ALLOWED, STEP_COMPLETE_WEBHOOK: '' });
    const token = 'Bearer receiver-token-3f9a1c';
    const MASK = '********';
    const created = await request(bed.app.server)
      .post('/v1/webhook-endpoints')
      .send({
        url: bed.receiver.url('/masked'),
        headers: { Authorization: token, 'X-Team': 'ops' },
      })
      .expect(201);
    const id = (created.body as CreatedEndpoint).id;
    expect(created.body.headers).toEqual({ authorization: token, 'x-team': 'ops' });

    const masked = { authorization: MASK, 'x-team': MASK };
    const one = await request(bed.app.server).get(`/v1/webhook-endpoints/${id}`).expect(200);
    expect(one.body.headers).toEqual(masked);
    const list = await request(bed.app.server).get('/v1/webhook-endpoints').expect(200);
    expect(
      (list.body as { id: string; headers: object }[]).find((e) => e.id === id)?.headers,
    ).toEqual(masked);
    const renamed = await request(bed.app.server)
      .patch(`/v1/webhook-endpoints/${id}`)
      .send({ description: 'renamed' })
      .expect(200);
    expect(renamed.body.headers).toEqual(masked);

    // Sending back what a view showed is refused, naming the header; the stored value stays.
    const sentBack = await request(bed.app.server)
      .patch(`/v1/webhook-endpoints/${id}`)
      .send({ headers: { authorization: MASK, 'x-team': 'billing' } })
      .expect(400);
    expect(([] as string[]).concat(sentBack.body.message).join('; ')).toContain(
      'headers "authorization" is "********"',
    );
    await request(bed.app.server)
      .post('/v1/webhook-endpoints')
      .send({ url: bed.receiver.url('/other'), headers: { authorization: MASK } })
      .expect(400);
    const step = await bed.steps.create();
    await bed.steps.complete(step.id, 'success').expect(200);
    await bed.receiver.waitForRequests(1);
    expect(bed.receiver.requests[0].headers.authorization).toBe(token);
    expect(bed.receiver.requests[0].headers['x-team']).toBe('ops');

    // A PATCH that sets headers shows what it set, once.
    const changed = await request(bed.app.server)
      .patch(`/v1/webhook-endpoints/${id}`)
      .send({ headers: { authorization: 'Bearer next-token-77e2' } })
      .expect(200);
    expect(changed.body.headers).toEqual({ authorization: 'Bearer next-token-77e2' });
    const after = await request(bed.app.server).get(`/v1/webhook-endpoints/${id}`).expect(200);
    expect(after.body.headers).toEqual({ authorization: MASK });

    const logged = bed.app.logs.text();
    expect(logged).not.toContain('receiver-token-3f9a1c');
    expect(logged).not.toContain('next-token-77e2');
  });

  it('holds deliveries while an endpoint is disabled and sends each once when it is enabled', async () => {
    await bed.start({ ...LOOPBACK_ALLOWED, STEP_COMPLETE_WEBHOOK: '' });
    const endpoint = await createEndpoint({ url: bed.receiver.url('/held'), disabled: true });
    expect(endpoint).toMatchObject({ disabled: true, disabled_reason: 'manual' });
    const stepIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const step = await bed.steps.create();
      await bed.steps.complete(step.id, 'success').expect(200);
      stepIds.push(step.id);
    }
    expect((await deliveriesOf(endpoint.id, 'held')).length).toBe(5);
    expect(bed.receiver.requests).toHaveLength(0);

    const enabled = await request(bed.app.server)
      .patch(`/v1/webhook-endpoints/${endpoint.id}`)
      .send({ disabled: false })
      .expect(200);
    expect(enabled.body).toMatchObject({ disabled: false, disabled_reason: null });
    await bed.receiver.waitForRequests(5);
    const delivered = bed.receiver.requests.map((r) => verifiedStepId(endpoint.secret, r));
    expect([...delivered].sort()).toEqual([...stepIds].sort());
    expect((await deliveriesOf(endpoint.id, 'held')).length).toBe(0);

    // Disabling again holds what is still pending; nothing is sent twice.
    await request(bed.app.server)
      .patch(`/v1/webhook-endpoints/${endpoint.id}`)
      .send({ disabled: true })
      .expect(200);
    const late = await bed.steps.create();
    await bed.steps.complete(late.id, 'success').expect(200);
    expect((await deliveriesOf(endpoint.id, 'held')).map((d) => d.step_id)).toEqual([late.id]);
    expect(bed.receiver.requests).toHaveLength(5);
  });

  it('disables an endpoint that keeps failing, holds what comes meanwhile, and sends every step once when enabled', async () => {
    await bed.start({
      ...LOOPBACK_ALLOWED,
      STEP_COMPLETE_WEBHOOK: '',
      STEP_COMPLETE_DISABLE_AFTER: '300ms',
      STEP_COMPLETE_RETRY_SCHEDULE: Array.from({ length: 50 }, () => '100ms').join(','),
    });
    bed.receiver.replyWith({ status: 503 });
    const endpoint = await createEndpoint({ url: bed.receiver.url('/flaky') });
    const stepIds: string[] = [];
    const completeStep = async () => {
      const step = await bed.steps.create();
      await bed.steps.complete(step.id, 'success').expect(200);
      stepIds.push(step.id);
    };
    for (let i = 0; i < 4; i++) await completeStep();

    await bed.app.logs.waitFor((entry) =>
      entry.message.includes(`Webhook endpoint ${endpoint.id} is disabled`),
    );
    const shown = await request(bed.app.server).get(`/v1/webhook-endpoints/${endpoint.id}`);
    expect(shown.body).toMatchObject({ disabled: true, disabled_reason: 'failing' });
    const metrics = await request(bed.app.server).get('/metrics').expect(200);
    expect(metrics.text).toContain('stephook_endpoints_disabled_total{reason="failing"} 1');
    expect(metrics.text).toMatch(
      new RegExp(
        `stephook_delivery_attempts_total\\{endpoint="${endpoint.id}",outcome="http_error"\\} \\d+`,
      ),
    );
    // New transitions write held deliveries; what was being retried waits as held too.
    for (let i = 0; i < 3; i++) await completeStep();
    await eventually(
      async () => (await deliveriesOf(endpoint.id, 'held')).length === stepIds.length,
      `all ${stepIds.length} deliveries of the disabled endpoint are held`,
      10_000,
    );
    const failedBefore = bed.receiver.requests.length;
    expect(failedBefore).toBeGreaterThanOrEqual(10);
    const stats = await request(bed.app.server)
      .get(`/v1/webhook-endpoints/${endpoint.id}/stats`)
      .expect(200);
    expect(stats.body).toMatchObject({
      endpoint_id: endpoint.id,
      counts: { pending: 0, held: stepIds.length, delivered: 0, failed: 0 },
      last_24h: { attempts: failedBefore, succeeded: 0, success_rate: 0 },
      last_failure: { error: 'HTTP 503' },
    });

    bed.receiver.replyWith({ status: 200 });
    await request(bed.app.server)
      .patch(`/v1/webhook-endpoints/${endpoint.id}`)
      .send({ disabled: false })
      .expect(200);
    await bed.receiver.waitForRequests(failedBefore + stepIds.length);
    await eventually(
      async () => (await deliveriesOf(endpoint.id, 'delivered')).length === stepIds.length,
      'every delivery is recorded as delivered',
      10_000,
    );
    const delivered = bed.receiver.requests
      .slice(failedBefore)
      .map((received) => verifiedStepId(endpoint.secret, received));
    // Every step once: none lost while disabled, none twice.
    expect([...delivered].sort()).toEqual([...stepIds].sort());
    expect(bed.receiver.requests).toHaveLength(failedBefore + stepIds.length);
    const healthy = await request(bed.app.server)
      .get(`/v1/webhook-endpoints/${endpoint.id}/stats`)
      .expect(200);
    expect(healthy.body.counts).toEqual({
      pending: 0,
      held: 0,
      delivered: stepIds.length,
      failed: 0,
    });
    expect(healthy.body.last_24h.succeeded).toBe(stepIds.length);
  });

  it('recovers the failed deliveries of one endpoint only, when asked for one', async () => {
    await bed.start({
      ...LOOPBACK_ALLOWED,
      STEP_COMPLETE_WEBHOOK: '',
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
    });
    bed.receiver.replyWith({ status: 500 });
    const first = await createEndpoint({ url: bed.receiver.url('/first') });
    const second = await createEndpoint({ url: bed.receiver.url('/second') });
    const since = new Date().toISOString();
    const step = await bed.steps.create();
    await bed.steps.complete(step.id, 'success').expect(200);
    await bed.receiver.waitForRequests(2);
    await eventually(
      async () => (await deliveriesOf(first.id, 'failed')).length === 1,
      "the first endpoint's delivery is failed",
    );
    await eventually(
      async () => (await deliveriesOf(second.id, 'failed')).length === 1,
      "the second endpoint's delivery is failed",
    );

    bed.receiver.replyWith({ status: 200 });
    const recovered = await request(bed.app.server)
      .post('/v1/webhook-deliveries/recover')
      .send({ since, endpoint_id: first.id })
      .expect(202);
    expect(recovered.body).toEqual({ requeued: 1 });
    await bed.receiver.waitForRequests(3);
    expect(bed.receiver.requests.at(-1)?.path).toBe('/first');
    await eventually(
      async () => (await deliveriesOf(first.id, 'delivered')).length === 1,
      "the first endpoint's delivery is delivered",
    );
    expect((await deliveriesOf(second.id, 'failed')).length).toBe(1);
  });

  it("ends a deleted endpoint's undelivered deliveries as failed (endpoint deleted)", async () => {
    await bed.start({
      ...LOOPBACK_ALLOWED,
      STEP_COMPLETE_WEBHOOK: '',
      STEP_COMPLETE_RETRY_SCHEDULE: '1h',
    });
    const failing = await WebhookReceiver.start();
    try {
      failing.replyWith({ status: 503 });
      const endpoint = await createEndpoint({ url: failing.url('/down') });
      const step = await bed.steps.create();
      await bed.steps.complete(step.id, 'success').expect(200);
      await failing.waitForRequests(1);
      await bed.app.logs.waitFor(
        (entry) => entry.message.includes(step.id) && entry.message.includes('HTTP 503'),
      );

      await request(bed.app.server).delete(`/v1/webhook-endpoints/${endpoint.id}`).expect(204);
      await request(bed.app.server).get(`/v1/webhook-endpoints/${endpoint.id}`).expect(404);
      const [delivery] = await bed.deliveries.forStep(step.id);
      expect(delivery).toMatchObject({
        endpoint_id: endpoint.id,
        status: 'failed',
        last_error: 'endpoint deleted',
        attempt_count: 1,
      });
      expect(delivery.attempts).toHaveLength(1);
    } finally {
      await failing.close();
    }
  });

  it('keeps API endpoints off loopback unless STEP_COMPLETE_ALLOWED_NETWORKS opens it', async () => {
    await bed.start({ STEP_COMPLETE_RETRY_SCHEDULE: 'none' });
    const endpoint = await createEndpoint({ url: bed.receiver.url('/private') });
    const step = await bed.steps.create();
    await bed.steps.complete(step.id, 'success').expect(200);
    await bed.app.logs.waitFor(
      (entry) => entry.message.includes(step.id) && entry.message.includes('giving up'),
    );
    const [refused] = await deliveriesOf(endpoint.id);
    expect(refused).toMatchObject({ status: 'failed', last_outcome: 'network_error' });
    expect(refused.last_error).toContain('a loopback address');
    expect(refused.last_error).toContain('STEP_COMPLETE_ALLOWED_NETWORKS');
    // The environment endpoint, set by the operator, is not restricted.
    expect(bed.receiver.requests.map((r) => r.path)).toEqual(['/hook']);
  });

  it('lists the environment endpoint first and refuses to change it', async () => {
    await bed.start();
    const endpoint = await createEndpoint({ url: bed.receiver.url('/other') });
    const list = await request(bed.app.server).get('/v1/webhook-endpoints').expect(200);
    expect((list.body as { id: string }[]).map((e) => e.id)).toEqual(['env', endpoint.id]);
    const env = await request(bed.app.server).get('/v1/webhook-endpoints/env').expect(200);
    expect(env.body).toMatchObject({ id: 'env', url: bed.receiver.url(), disabled: false });
    const page = await request(bed.app.server).get('/v1/webhook-endpoints?limit=1').expect(200);
    expect((page.body as { id: string }[]).map((e) => e.id)).toEqual(['env']);
    const next = await request(bed.app.server)
      .get('/v1/webhook-endpoints?limit=1&after=env')
      .expect(200);
    expect((next.body as { id: string }[]).map((e) => e.id)).toEqual([endpoint.id]);
    for (const call of [
      request(bed.app.server).patch('/v1/webhook-endpoints/env').send({ disabled: true }),
      request(bed.app.server).delete('/v1/webhook-endpoints/env'),
      request(bed.app.server).post('/v1/webhook-endpoints/env/secret/rotate'),
    ]) {
      await call.expect(409);
    }
  });

  it('without STEP_COMPLETE_WEBHOOK there is no env endpoint: every route on it is a 404', async () => {
    await bed.start({ STEP_COMPLETE_WEBHOOK: '' });
    for (const call of [
      request(bed.app.server).get('/v1/webhook-endpoints/env'),
      request(bed.app.server).patch('/v1/webhook-endpoints/env').send({ disabled: true }),
      request(bed.app.server).delete('/v1/webhook-endpoints/env'),
      request(bed.app.server).get('/v1/webhook-endpoints/env/secret'),
      request(bed.app.server).post('/v1/webhook-endpoints/env/secret/rotate'),
    ]) {
      await call.expect(404);
    }
  });

  it.each([
    [{ url: null }, 'url must be a string'],
    [{ url: 'ftp://example.com/hook' }, 'url must use http or https'],
    [{ url: 'https://user:pw@example.com/hook' }, 'url must not carry credentials'],
    [{ url: 'not a url' }, 'url must be an absolute http or https URL'],
    [{ url: 'https://example.com', headers: { 'webhook-id': 'x' } }, 'headers "webhook-id"'],
    [{ url: 'https://example.com', headers: { Host: 'x' } }, 'headers "Host"'],
    [{ url: 'https://example.com', headers: { 'x-a': 'b\r\nc: d' } }, 'must not contain line'],
    [
      { url: 'https://example.com', filter: { statuses: ['pending'] } },
      'filter.statuses must each be one of success, failed, cancelled',
    ],
    [{ url: 'https://example.com', filter: { tags: 'prod' } }, 'filter.tags must be an array'],
    [{ url: 'https://example.com', payload: 'huge' }, 'payload must be one of'],
    [{ url: 'https://example.com', disabled: 'yes' }, 'disabled must be a boolean'],
  ])('refuses %j with a 400 naming the field', async (body, message) => {
    await bed.start();
    const response = await request(bed.app.server)
      .post('/v1/webhook-endpoints')
      .send(body)
      .expect(400);
    expect(([] as string[]).concat(response.body.message).join('; ')).toContain(message);
    const list = await request(bed.app.server).get('/v1/webhook-endpoints').expect(200);
    expect(list.body).toHaveLength(1);
  });
});
