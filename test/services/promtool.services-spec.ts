import { spawnSync } from 'node:child_process';
import request from 'supertest';
import { StepsApi } from '../helpers/steps-api.js';
import { createTestApp, TestApp } from '../helpers/test-app.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * Prometheus's own linter on /metrics, as an operator would run it: `promtool check metrics`
 * (Debian's prometheus package, which .ci/run installs when it is missing) must find nothing, on a
 * fresh process and after traffic.
 */
describe('/metrics under promtool (services)', () => {
  let receiver: WebhookReceiver;
  let t: TestApp;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    t = await createTestApp({ STEP_COMPLETE_WEBHOOK: receiver.url() });
  });
  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  const promtool = (metrics: string) =>
    spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });

  it('lints clean on a fresh process and after steps and attempts', async () => {
    const fresh = promtool((await request(t.server).get('/metrics').expect(200)).text);
    expect(fresh.error).toBeUndefined();
    expect({ status: fresh.status, output: `${fresh.stdout}${fresh.stderr}` }).toEqual({
      status: 0,
      output: '',
    });

    const steps = new StepsApi(t.server);
    const step = await steps.create();
    await steps.complete(step.id, 'success').expect(200);
    await receiver.waitForRequests(1);
    const busy = promtool((await request(t.server).get('/metrics').expect(200)).text);
    expect({ status: busy.status, output: `${busy.stdout}${busy.stderr}` }).toEqual({
      status: 0,
      output: '',
    });
  });

  it('would catch a misnamed metric (the linter is really consulted)', () => {
    const bad = promtool('# HELP x_total A gauge.\n# TYPE x_total gauge\nx_total 1\n');
    expect(bad.status).not.toBe(0);
  });
});
