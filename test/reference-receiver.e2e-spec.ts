import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { Webhook } from 'standardwebhooks';
import { StepCompleted, StepReceiver } from '../examples/receiver/step-receiver.js';
import { parseSigningSecrets } from '../src/config/signing-secrets.js';
import { DeliveriesApi } from './helpers/deliveries-api.js';
import { StepsApi } from './helpers/steps-api.js';
import { createTestApp, TestApp } from './helpers/test-app.js';

const OLD_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const NEW_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const KEY = 'receiver-key-7f3a';

/** stephook end to end against the reference receiver in examples/receiver. */
describe('Reference receiver (e2e)', () => {
  let t: TestApp;
  let receiver: StepReceiver;
  let handled: StepCompleted[];
  let url: string;

  async function startReceiver(secrets: string[], key = KEY) {
    handled = [];
    receiver = new StepReceiver({
      key,
      signingKeys: parseSigningSecrets(secrets.join(' ')),
      handle: (event) => void handled.push(event),
    });
    receiver.server.listen(0, '127.0.0.1');
    await once(receiver.server, 'listening');
    url = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}/hook`;
  }

  afterEach(async () => {
    await t.close();
    receiver.server.closeAllConnections();
    receiver.server.close();
  });

  async function completeStep(
    env: Record<string, string>,
    status: 'delivered' | 'failed' = 'delivered',
  ) {
    t = await createTestApp({
      STEP_COMPLETE_WEBHOOK: url,
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
      ...env,
    });
    const step = await new StepsApi(t.server).create();
    await new StepsApi(t.server).complete(step.id, 'success').expect(200);
    return {
      stepId: step.id,
      delivery: await new DeliveriesApi(t.server, t.logs).settled(step.id, status),
    };
  }

  it.each([
    ['the receiver has rotated to the new secret', [NEW_SECRET]],
    ['the receiver still has only the old secret', [OLD_SECRET]],
  ])('verifies a delivery signed during rotation when %s', async (_case, receiverSecrets) => {
    await startReceiver(receiverSecrets);

    const { stepId, delivery } = await completeStep({
      STEP_COMPLETE_KEY: KEY,
      STEP_COMPLETE_SECRET: `${OLD_SECRET} ${NEW_SECRET}`,
    });

    expect(delivery.status).toBe('delivered');
    expect(delivery.attempts[0].status_code).toBe(204);
    expect(receiver.stats).toEqual({ accepted: 1, duplicates: 0, rejected: 0 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(handled).toEqual([{ webhookId: delivery.id, stepId, payload: { step_id: stepId } }]);
  });

  it('handles a replayed delivery (same webhook-id) once, and still answers it 2xx', async () => {
    await startReceiver([NEW_SECRET]);
    const { delivery } = await completeStep({
      STEP_COMPLETE_KEY: KEY,
      STEP_COMPLETE_SECRET: NEW_SECRET,
    });

    await request(t.server).post(`/v1/webhook-deliveries/${delivery.id}/retry`).expect(202);
    await t.logs.waitFor((entry) => entry.message.includes(`${delivery.id}, attempt 2`));

    expect(receiver.stats).toEqual({ accepted: 1, duplicates: 1, rejected: 0 });
    const [again] = await new DeliveriesApi(t.server, t.logs).forStep(delivery.step_id);
    expect(again.attempts.map((a) => a.status_code)).toEqual([204, 204]);
    expect(handled).toHaveLength(1);
  });

  it('rejects a delivery signed with a secret it does not know, or sent with the wrong key', async () => {
    await startReceiver([NEW_SECRET]);
    const unsigned = await completeStep(
      { STEP_COMPLETE_KEY: KEY, STEP_COMPLETE_SECRET: OLD_SECRET },
      'failed',
    );
    expect(unsigned.delivery.last_status_code).toBe(400);
    await t.close();

    const wrongKey = await completeStep(
      { STEP_COMPLETE_KEY: 'not-the-key', STEP_COMPLETE_SECRET: NEW_SECRET },
      'failed',
    );
    expect(wrongKey.delivery.last_status_code).toBe(401);
    expect(handled).toEqual([]);
  });

  it('rejects a tampered body and a stale timestamp', async () => {
    await startReceiver([NEW_SECRET], '');
    t = await createTestApp({});
    const signer = new Webhook(NEW_SECRET);
    const body = '{"step_id":"step-7b0c2a54-3f4e-4d6a-9c1b-2e8f5a6d7c90"}';
    const send = (payload: string, at: Date) =>
      fetch(url, {
        method: 'POST',
        body: payload,
        headers: {
          'content-type': 'application/json',
          'webhook-id': 'msg_1',
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': signer.sign('msg_1', at, body),
        },
      });

    expect((await send(body.replace('7b0c', '7b0d'), new Date())).status).toBe(400);
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);
    expect((await send(body, tenMinutesAgo)).status).toBe(400);
    expect((await send(body, new Date())).status).toBe(204);
    expect(receiver.stats).toEqual({ accepted: 1, duplicates: 0, rejected: 2 });
  });
});
