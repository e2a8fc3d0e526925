import request from 'supertest';
import { DeliveryScheduler } from '../src/webhook/dispatch/delivery-scheduler.js';
import { DeliveriesApi } from './helpers/deliveries-api.js';
import { StepsApi } from './helpers/steps-api.js';
import { createTestApp, TestApp } from './helpers/test-app.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';

/** Reads one sample of a Prometheus text exposition, e.g. `stephook_deliveries_failed`. */
function sample(metrics: string, name: string, labels = ''): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('Operating stephook (e2e)', () => {
  let receiver: WebhookReceiver;
  let t: TestApp;

  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
    t = await createTestApp({
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
    });
  });

  afterEach(async () => {
    await receiver.close();
    await t.close();
  });

  describe('health and readiness', () => {
    it('reports live and ready while the database answers and deliveries run', async () => {
      await request(t.server).get('/health').expect(200, { status: 'ok' });
      const ready = await request(t.server).get('/ready').expect(200);
      expect(ready.body).toMatchObject({
        status: 'ok',
        info: { database: { status: 'up' }, deliveries: { status: 'up' } },
      });
    });

    it('turns /ready to 503 when the database is closed, while /health stays 200', async () => {
      await t.dataSource.destroy();

      const ready = await request(t.server).get('/ready').expect(503);
      expect(ready.body).toMatchObject({
        status: 'error',
        error: { database: { status: 'down' } },
      });
      await request(t.server).get('/health').expect(200);
    });

    it('turns /ready to 503 when deliveries are no longer processed', async () => {
      t.app.get(DeliveryScheduler).beforeApplicationShutdown();

      const ready = await request(t.server).get('/ready').expect(503);
      expect(ready.body).toMatchObject({ error: { deliveries: { status: 'down' } } });
    });
  });

  describe('GET /metrics', () => {
    it("follows Prometheus's naming rules (what `promtool check metrics` checks)", async () => {
      const text = (await request(t.server).get('/metrics').expect(200)).text;
      const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => ({
        name,
        type,
      }));
      expect(types.length).toBeGreaterThan(10);
      const misnamed = types.filter(
        ({ name, type }) =>
          (type === 'counter' && !name.endsWith('_total')) ||
          (type !== 'counter' && name.endsWith('_total')) ||
          !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name),
      );
      expect(misnamed).toEqual([]);
      for (const { name } of types) expect(text).toContain(`# HELP ${name} `);
    });

    it('counts terminal transitions, attempts by outcome and their latency, and the failed backlog', async () => {
      const before = (await request(t.server).get('/metrics').expect(200)).text;
      // Every known label value is there from the start, at 0, so rate() works on a new process.
      for (const status of ['success', 'failed', 'cancelled']) {
        expect(sample(before, 'stephook_steps_completed_total', `{status="${status}"}`)).toBe(0);
      }
      for (const outcome of ['success', 'http_error', 'timeout', 'network_error']) {
        expect(
          sample(
            before,
            'stephook_delivery_attempts_total',
            `{endpoint="env",outcome="${outcome}"}`,
          ),
        ).toBe(0);
        expect(
          sample(
            before,
            'stephook_delivery_attempt_duration_seconds_count',
            `{outcome="${outcome}"}`,
          ),
        ).toBe(0);
      }
      expect(before).toContain('process_cpu_user_seconds_total');

      const steps = new StepsApi(t.server);
      const deliveries = new DeliveriesApi(t.server, t.logs);
      const ok = await steps.create();
      await steps.complete(ok.id, 'success').expect(200);
      await deliveries.settled(ok.id, 'delivered');
      receiver.replyWith({ status: 500 });
      const broken = await steps.create();
      await steps.complete(broken.id, 'cancelled').expect(200);
      await deliveries.settled(broken.id, 'failed');

      const response = await request(t.server).get('/metrics').expect(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain/);
      const after = response.text;
      expect(sample(after, 'stephook_steps_completed_total', '{status="success"}')).toBe(1);
      expect(sample(after, 'stephook_steps_completed_total', '{status="cancelled"}')).toBe(1);
      expect(
        sample(after, 'stephook_delivery_attempts_total', '{endpoint="env",outcome="success"}'),
      ).toBe(1);
      expect(
        sample(after, 'stephook_delivery_attempts_total', '{endpoint="env",outcome="http_error"}'),
      ).toBe(1);
      expect(
        sample(after, 'stephook_delivery_attempt_duration_seconds_count', '{outcome="success"}'),
      ).toBe(1);
      expect(sample(after, 'stephook_deliveries_failed')).toBe(1);
      expect(sample(after, 'stephook_deliveries_pending')).toBe(0);
    });
  });

  describe('OpenAPI', () => {
    it('serves a document at /docs-json that lists every route with its responses, and the UI at /docs', async () => {
      const document = (await request(t.server).get('/docs-json').expect(200)).body as {
        paths: Record<
          string,
          Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>
        >;
        components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
      };
      const routes = Object.entries(document.paths).flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
      );

      expect(routes.sort()).toEqual(
        [
          'POST /v1/steps',
          'GET /v1/steps',
          'GET /v1/steps/{step_id}',
          'POST /v1/steps/{step_id}/success',
          'POST /v1/steps/{step_id}/error',
          'POST /v1/steps/{step_id}/cancel',
          'PATCH /v1/steps/{step_id}/feedback',
          'PUT /v1/steps/{step_id}/metrics',
          'GET /v1/steps/{step_id}/metrics',
          'GET /v1/steps/{step_id}/deliveries',
          'GET /v1/runs/{run_id}/steps',
          'GET /v1/webhook-deliveries',
          'GET /v1/webhook-deliveries/summary',
          'GET /v1/webhook-deliveries/{id}',
          'POST /v1/webhook-deliveries/{id}/retry',
          'POST /v1/webhook-deliveries/recover',
          'POST /v1/webhook-endpoints',
          'GET /v1/webhook-endpoints',
          'GET /v1/webhook-endpoints/{id}',
          'PATCH /v1/webhook-endpoints/{id}',
          'DELETE /v1/webhook-endpoints/{id}',
          'GET /v1/webhook-endpoints/{id}/secret',
          'GET /v1/webhook-endpoints/{id}/stats',
          'POST /v1/webhook-endpoints/{id}/secret/rotate',
          'POST /v1/api-keys',
          'GET /v1/api-keys',
          'GET /v1/api-keys/current',
          'GET /v1/api-keys/{id}',
          'DELETE /v1/api-keys/{id}',
          'GET /health',
          'GET /ready',
          'GET /metrics',
        ].sort(),
      );
      const success = document.paths['/v1/steps/{step_id}/success'].post;
      expect(Object.keys(success.responses)).toEqual(
        expect.arrayContaining(['200', '400', '401', '403', '404', '409', '413']),
      );
      expect(success.requestBody).toBeDefined();
      expect(Object.keys(document.components.schemas.StepView.properties ?? {})).toHaveLength(29);
      expect(document.components.schemas.CreateStepDto.properties).toHaveProperty('agent_id');
      expect(document.components.schemas.StepErrorDto.properties).toHaveProperty('error_type');

      const ui = await request(t.server).get('/docs').expect(200);
      expect(ui.text).toContain('swagger');
    });
  });
});
