import request from 'supertest';
import { WebhookReceiver } from './helpers/webhook-receiver.js';
import { createTestApp, TestApp } from './helpers/test-app.js';
import {
  documentOf,
  generate,
  nulRequests,
  prepareSweep,
  prng,
  runSweep,
} from './helpers/bad-input-sweep.js';

describe('Bad-input sweep (e2e)', () => {
  let receiver: WebhookReceiver;
  let t: TestApp;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    t = await createTestApp({
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
    });
  });

  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  it('answers 600 generated malformed requests with a 4xx each, writes nothing for them, and stays up', async () => {
    const ids = await prepareSweep(t, receiver);
    const nul = nulRequests(documentOf(t), ids);
    const { statuses, failures } = await runSweep(t, generate(prng(20261128), ids, 600, nul));

    expect(failures).toEqual([]);
    await request(t.server).get('/health').expect(200, { status: 'ok' });
    await request(t.server).get(`/v1/steps/${ids.step}`).expect(200);
    // The sweep reached the refusals it is meant to: bad input, bad content type, too large.
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([400, 413, 415]));
  }, 120_000);

  it('answers 400 naming the field for NUL in every string the document lists, writing nothing', async () => {
    const ids = await prepareSweep(t, receiver);
    const nul = nulRequests(documentOf(t), ids);
    const { statuses, failures } = await runSweep(t, nul);

    expect(failures).toEqual([]);
    expect(Object.fromEntries(statuses)).toEqual({ 400: nul.length });
    // Every kind of place: body fields at depth, field names, query and path parameters.
    for (const kind of [
      'NUL in query',
      'NUL in path',
      'NUL: usage.prompt_tokens_details.k',
      'NUL: filter.agent_ids[0]',
      'NUL: field name',
      'NUL: headers.k',
    ])
      expect(nul.some((bad) => bad.kind.startsWith(kind))).toBe(true);
  }, 120_000);
});
