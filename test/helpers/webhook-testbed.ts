import type { Env } from '../../src/config/env.js';
import { DeliveriesApi } from './deliveries-api.js';
import { StepsApi } from './steps-api.js';
import { createTestApp, TestApp } from './test-app.js';
import { WebhookReceiver } from './webhook-receiver.js';

export interface WebhookTestbed {
  receiver: WebhookReceiver;
  app: TestApp;
  steps: StepsApi;
  deliveries: DeliveriesApi;
  /** Starts the app with STEP_COMPLETE_WEBHOOK pointing at the receiver, unless `env` says otherwise. */
  start(env?: Env): Promise<TestApp>;
}

/** A real receiver for every test, and the app once the test starts it; both closed after it. */
export function useWebhookTestbed(): WebhookTestbed {
  let app: TestApp | undefined;
  const bed = {
    async start(env: Env = {}) {
      app = await createTestApp({ STEP_COMPLETE_WEBHOOK: bed.receiver.url(), ...env });
      bed.steps = new StepsApi(app.server);
      bed.deliveries = new DeliveriesApi(app.server, app.logs);
      return app;
    },
    get app(): TestApp {
      if (!app) throw new Error('the test has not started the app');
      return app;
    },
  } as WebhookTestbed;

  beforeEach(async () => {
    bed.receiver = await WebhookReceiver.start();
  });

  afterEach(async () => {
    // The receiver goes first: it cuts hung connections, so shutdown has nothing left to wait for.
    await bed.receiver.close();
    await app?.close();
    app = undefined;
  });

  return bed;
}
