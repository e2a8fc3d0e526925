import request from 'supertest';
import {
  documentOf,
  generate,
  nulRequests,
  prepareSweep,
  prng,
  runSweep,
} from '../helpers/bad-input-sweep.js';
import { createTestApp, TestApp } from '../helpers/test-app.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { freshPostgres, TestDatabase } from './services.js';

/**
 * The generated bad-input sweep on PostgreSQL, where a NUL character in a string is an error of the
 * database itself (text cannot hold U+0000), so any NUL the API let through answered 500: NUL in
 * every string the OpenAPI document lists, then the whole random sweep. No Redis.
 */
describe('Bad input on PostgreSQL (services)', () => {
  let db: TestDatabase;
  let receiver: WebhookReceiver;
  let t: TestApp;

  beforeAll(async () => {
    db = await freshPostgres();
    receiver = await WebhookReceiver.start();
    t = await createTestApp({
      DATABASE_URL: db.url,
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
    });
  });

  afterAll(async () => {
    await t.close();
    await receiver.close();
    await db.drop();
  });

  it('answers 400 naming the field for NUL in every string of every route, writing nothing', async () => {
    const ids = await prepareSweep(t, receiver);
    const nul = nulRequests(documentOf(t), ids);
    const { statuses, failures } = await runSweep(t, nul);

    expect(failures).toEqual([]);
    expect(Object.fromEntries(statuses)).toEqual({ 400: nul.length });
    expect(nul.length).toBeGreaterThan(80);
  });

  it('answers 600 generated malformed requests with a 4xx each (0 of them ≥ 500), writing nothing', async () => {
    const ids = await prepareSweep(t, receiver);
    const nul = nulRequests(documentOf(t), ids);
    const { statuses, failures } = await runSweep(t, generate(prng(20261206), ids, 600, nul));

    expect(failures).toEqual([]);
    expect([...statuses.keys()].filter((status) => status >= 500)).toEqual([]);
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([400, 413, 415]));
    await request(t.server).get('/health').expect(200, { status: 'ok' });
    await request(t.server).get(`/v1/steps/${ids.step}`).expect(200);
  });
});
