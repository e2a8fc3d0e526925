import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { DeliverySummary } from '../src/webhook/deliveries/deliveries.service.js';
import type { DeliveryJson } from '../src/webhook/deliveries/delivery.presenter.js';
import { createTestApp } from './helpers/test-app.js';
import { useWebhookTestbed } from './helpers/webhook-testbed.js';

describe('Dashboard page and the summary it reads (e2e)', () => {
  const bed = useWebhookTestbed();

  async function settledStep(status: 'delivered' | 'failed'): Promise<string> {
    const step = await bed.steps.create({ agent_id: 'agent-dash' });
    await bed.steps.complete(step.id, 'success').expect(200);
    await bed.deliveries.settled(step.id, status);
    return step.id;
  }

  it('serves the page and its two files, with a strict content security policy', async () => {
    await bed.start();

    const page = await request(bed.app.server).get('/dashboard').expect(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.text).toContain('<script type="module" src="/dashboard/dashboard.js">');
    const script = await request(bed.app.server).get('/dashboard/dashboard.js').expect(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const styles = await request(bed.app.server).get('/dashboard/dashboard.css').expect(200);
    expect(styles.headers['content-type']).toBe('text/css; charset=utf-8');
    await request(bed.app.server).get('/dashboard/index.js').expect(404);
    await request(bed.app.server).get('/dashboard/..%2Fpackage.json').expect(404);
  });

  it('with API_KEY: the page opens without it, the data it reads does not', async () => {
    const app = await createTestApp({ API_KEY: 'dashboard-key' });
    try {
      await request(app.server).get('/dashboard').expect(200);
      await request(app.server).get('/dashboard/dashboard.js').expect(200);
      await request(app.server).get('/v1/webhook-deliveries/summary').expect(401);
      await request(app.server)
        .get('/v1/webhook-deliveries/summary')
        .set('authorization', 'Bearer dashboard-key')
        .expect(200);
    } finally {
      await app.close();
    }
  });

  it("a key's scopes open exactly the calls the dashboard makes for it, and a 403 names the scope", async () => {
    const app = await createTestApp({ API_KEY: 'dashboard-key' });
    try {
      const created = await request(app.server)
        .post('/v1/api-keys')
        .set('authorization', 'Bearer dashboard-key')
        .send({ name: 'reader', scopes: ['endpoints:read', 'deliveries:read'] })
        .expect(201);
      const bearer = `Bearer ${(created.body as { key: string }).key}`;
      const call = (method: 'get' | 'post' | 'delete', path: string) =>
        request(app.server)[method](path).set('authorization', bearer);
      const delivery = 'msg_01a24fdc4aa27e7de1462bedf970b99d';
      const endpoint = 'ep_d6e324acccef4655adbd95017e844597';

      // What the dashboard reads for this key: answered (404 for the made-up ids), not refused.
      const reads: [string, number][] = [
        ['/v1/api-keys/current', 200],
        ['/v1/webhook-deliveries/summary', 200],
        ['/v1/webhook-deliveries?limit=20', 200],
        [`/v1/webhook-deliveries/${delivery}`, 404],
        ['/v1/webhook-endpoints?limit=21', 200],
        [`/v1/webhook-endpoints/${endpoint}/stats`, 404],
      ];
      for (const [path, status] of reads)
        expect([path, (await call('get', path)).status]).toEqual([path, status]);
      // What it hides for this key: each refused, naming the scope it lacks.
      const hidden: [string, 'get' | 'post' | 'delete', string][] = [
        ['steps:read', 'get', `/v1/steps/step-${randomUUID()}`],
        ['deliveries:write', 'post', `/v1/webhook-deliveries/${delivery}/retry`],
        ['deliveries:write', 'post', '/v1/webhook-deliveries/recover'],
        ['endpoints:write', 'post', '/v1/webhook-endpoints'],
        ['endpoints:write', 'post', `/v1/webhook-endpoints/${endpoint}/secret/rotate`],
        ['endpoints:write', 'delete', `/v1/webhook-endpoints/${endpoint}`],
        ['admin', 'get', '/v1/api-keys?limit=101'],
      ];
      for (const [scope, method, path] of hidden) {
        const refused = await call(method, path);
        expect([path, refused.status]).toEqual([path, 403]);
        expect(refused.body).toMatchObject({ message: expect.stringContaining(scope) });
      }
    } finally {
      await app.close();
    }
  });

  it('summary: counts by state, the last hour by minute, the receiver URL without secrets', async () => {
    bed.receiver.replyInTurn({ status: 200 }, { status: 500, body: 'down' });
    const url = new URL(bed.receiver.url());
    url.username = 'user';
    url.password = 'pass-word';
    url.search = '?token=t0ken';
    await bed.start({ STEP_COMPLETE_WEBHOOK: url.href, STEP_COMPLETE_RETRY_SCHEDULE: 'none' });
    await settledStep('delivered');
    await settledStep('failed');

    const summary = (
      await request(bed.app.server).get('/v1/webhook-deliveries/summary').expect(200)
    ).body as DeliverySummary;

    expect(summary.receiver_url).toBe(`http://127.0.0.1:${bed.receiver.port}/hook?…`);
    expect(JSON.stringify(summary)).not.toMatch(/pass-word|t0ken/);
    expect(summary.counts).toEqual({ pending: 0, held: 0, delivered: 1, failed: 1 });
    expect(summary.oldest_pending_created_at).toBeNull();
    expect(summary.last_hour).toEqual({ attempts: 2, succeeded: 1, success_rate: 0.5 });
    expect(summary.attempts_per_minute).toHaveLength(60);
    const minutes = summary.attempts_per_minute.map((bucket) => Date.parse(bucket.minute));
    expect(minutes.every((minute, i) => i === 0 || minute - minutes[i - 1] === 60_000)).toBe(true);
    const counted = summary.attempts_per_minute.filter((bucket) => bucket.attempts > 0);
    expect(counted.reduce((sum, bucket) => sum + bucket.failed, 0)).toBe(1);
  });

  it('summary: the oldest pending delivery and its age', async () => {
    bed.receiver.replyWith({ status: 503 });
    await bed.start({ STEP_COMPLETE_RETRY_SCHEDULE: '1h' });
    const step = await bed.steps.create();
    await bed.steps.complete(step.id, 'success').expect(200);
    await bed.app.logs.waitFor(
      (entry) => entry.message.includes(`${step.id}`) && entry.message.includes('next attempt'),
    );

    const summary = (
      await request(bed.app.server).get('/v1/webhook-deliveries/summary').expect(200)
    ).body as DeliverySummary;

    expect(summary.counts.pending).toBe(1);
    expect(summary.oldest_pending_created_at).toEqual(expect.any(String));
    expect(summary.oldest_pending_age_s).toBeGreaterThanOrEqual(0);
  });

  it('lists deliveries of one step with step_id, alone or with a state', async () => {
    await bed.start({ STEP_COMPLETE_RETRY_SCHEDULE: 'none' });
    const first = await settledStep('delivered');
    await settledStep('delivered');

    const list = async (query: string) =>
      (await request(bed.app.server).get(`/v1/webhook-deliveries?${query}`).expect(200))
        .body as DeliveryJson[];

    expect((await list(`step_id=${first}`)).map((d) => d.step_id)).toEqual([first]);
    expect(await list(`step_id=${first}&status=failed`)).toEqual([]);
    expect(await list('step_id=step-unknown')).toEqual([]);
    await request(bed.app.server)
      .get(`/v1/webhook-deliveries?step_id=${'x'.repeat(65)}`)
      .expect(400);
  });
});
