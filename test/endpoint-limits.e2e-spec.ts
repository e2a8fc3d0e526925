import request from 'supertest';
import { eventually } from './helpers/deadline.js';
import { createTestApp, TestApp } from './helpers/test-app.js';

const URL = 'https://billing.example.com/hooks/steps';
const CLOSED = { state: 'closed', opened_at: null, unreachable_attempts: 0, next_probe_at: null };

interface EndpointBody {
  id: string;
  max_in_flight: number;
  rate_limit: number | null;
  breaker: Record<string, unknown>;
}

/**
 * SPEC §9 "Isolation", as the API shows it: `max_in_flight` and `rate_limit` on every endpoint,
 * validated exactly (a 400 naming the field), with their defaults, and each endpoint's circuit
 * breaker in every view. (Every answer is also held to the OpenAPI document by createTestApp.)
 */
describe('Endpoint limits and breaker (e2e)', () => {
  let t: TestApp;

  afterEach(() => t.close());

  const create = (body: Record<string, unknown>) =>
    request(t.server).post('/v1/webhook-endpoints').send(body);
  const patch = (id: string, body: Record<string, unknown>) =>
    request(t.server).patch(`/v1/webhook-endpoints/${id}`).send(body);
  const getOne = async (id: string) =>
    (await request(t.server).get(`/v1/webhook-endpoints/${id}`).expect(200)).body as EndpointBody;
  const list = async () =>
    (await request(t.server).get('/v1/webhook-endpoints').expect(200)).body as EndpointBody[];
  /** A JSON body sent exactly as written (numbers a JavaScript object cannot hold). */
  const raw = (method: 'post' | 'patch', path: string, json: string) =>
    request(t.server)[method](path).set('content-type', 'application/json').send(json);

  describe('without the environment endpoint', () => {
    beforeEach(async () => {
      t = await createTestApp();
    });

    it('defaults to 64 in flight and no rate limit, with a closed breaker, in every view', async () => {
      const created = (await create({ url: URL }).expect(201)).body as EndpointBody;
      const expected = { max_in_flight: 64, rate_limit: null, breaker: CLOSED };
      expect(created).toMatchObject(expected);
      expect(await getOne(created.id)).toMatchObject(expected);
      expect(await list()).toEqual([expect.objectContaining(expected)]);
      expect((await patch(created.id, {}).expect(200)).body).toMatchObject(expected);
    });

    it('keeps the limits given on create, and null rate_limit means no limit', async () => {
      const limited = (await create({ url: URL, max_in_flight: 3, rate_limit: 2.5 }).expect(201))
        .body as EndpointBody;
      expect(limited).toMatchObject({ max_in_flight: 3, rate_limit: 2.5 });
      expect(await getOne(limited.id)).toMatchObject({ max_in_flight: 3, rate_limit: 2.5 });
      const unlimited = (await create({ url: URL, rate_limit: null }).expect(201))
        .body as EndpointBody;
      expect(unlimited).toMatchObject({ max_in_flight: 64, rate_limit: null });
      for (const edge of [
        { max_in_flight: 1, rate_limit: 0.01 },
        { max_in_flight: 1000, rate_limit: 10000 },
      ]) {
        expect((await create({ url: URL, ...edge }).expect(201)).body).toMatchObject(edge);
      }
    });

    it('PATCH changes each limit alone, null rate_limit removes the limit, left out keeps', async () => {
      const { id } = (await create({ url: URL }).expect(201)).body as EndpointBody;
      expect((await patch(id, { max_in_flight: 4 }).expect(200)).body).toMatchObject({
        max_in_flight: 4,
        rate_limit: null,
      });
      expect((await patch(id, { rate_limit: 50 }).expect(200)).body).toMatchObject({
        max_in_flight: 4,
        rate_limit: 50,
      });
      expect((await patch(id, { description: 'x' }).expect(200)).body).toMatchObject({
        max_in_flight: 4,
        rate_limit: 50,
      });
      expect((await patch(id, { rate_limit: null }).expect(200)).body).toMatchObject({
        max_in_flight: 4,
        rate_limit: null,
      });
      expect(await getOne(id)).toMatchObject({ max_in_flight: 4, rate_limit: null });
    });

    // Hostile values: each is a 400 naming the field, on create and on PATCH, and changes nothing.
    const badMaxInFlight: unknown[] = [
      null,
      '16',
      '',
      'NaN',
      'Infinity',
      -1,
      0,
      1001,
      1.5,
      16.000001,
      1e308,
      true,
      [],
      [16],
      {},
      { value: 16 },
      { nested: { deeper: [1, 2, 3] } },
    ];
    const badRateLimit: unknown[] = [
      '50',
      '',
      'NaN',
      'Infinity',
      -1,
      0,
      0.001,
      0.0099,
      10000.01,
      1e308,
      -1e308,
      false,
      [],
      [50],
      {},
      { per_second: 50 },
      { nested: { deeper: [1] } },
    ];
    const cases = [
      ...badMaxInFlight.map((value) => ['max_in_flight', value] as const),
      ...badRateLimit.map((value) => ['rate_limit', value] as const),
    ];

    it.each(cases)(
      '%s = %j is a 400 naming the field, on create and on PATCH',
      async (field, value) => {
        const refused = await create({ url: URL, [field]: value }).expect(400);
        expect(JSON.stringify(refused.body.message)).toContain(field);
        const { id } = (await create({ url: URL, max_in_flight: 5, rate_limit: 7 }).expect(201))
          .body as EndpointBody;
        const refusedPatch = await patch(id, { [field]: value }).expect(400);
        expect(JSON.stringify(refusedPatch.body.message)).toContain(field);
        expect(await getOne(id)).toMatchObject({ max_in_flight: 5, rate_limit: 7 });
      },
    );

    it('refuses numbers JSON can write but a double cannot hold, naming the field', async () => {
      const { id } = (await create({ url: URL }).expect(201)).body as EndpointBody;
      for (const field of ['max_in_flight', 'rate_limit']) {
        for (const number of ['1e400', '-1e400', '123456789012345678901234567890', '16e0']) {
          const body = `{"url":"${URL}","${field}":${number}}`;
          const answer = await raw('post', '/v1/webhook-endpoints', body);
          // 16e0 is the integer 16 written otherwise: accepted as max_in_flight and as rate_limit.
          if (number === '16e0') {
            expect({ number, field, status: answer.status }).toEqual({
              number,
              field,
              status: 201,
            });
            continue;
          }
          expect({ number, field, status: answer.status }).toEqual({ number, field, status: 400 });
          expect(JSON.stringify(answer.body.message)).toContain(field);
          const patched = await raw(
            'patch',
            `/v1/webhook-endpoints/${id}`,
            `{"${field}":${number}}`,
          );
          expect(patched.status).toBe(400);
          expect(JSON.stringify(patched.body.message)).toContain(field);
        }
      }
    });

    it('says in the 400 for a null max_in_flight that null is refused and what the default is', async () => {
      const refused = await create({ url: URL, max_in_flight: null }).expect(400);
      expect(refused.body.message).toEqual([
        'max_in_flight must be an integer from 1 to 1000 (null is refused: leave it out for the default, 64)',
      ]);
    });

    it('shows a breaker as the delivering processes left it (its throttle row), in one read per list', async () => {
      const [open, closed] = [
        ((await create({ url: URL }).expect(201)).body as EndpointBody).id,
        ((await create({ url: URL }).expect(201)).body as EndpointBody).id,
      ];
      const openedAt = '2026-12-07T02:00:00.000Z';
      const probeAt = Date.parse('2026-12-07T02:00:08.000Z');
      await t.dataSource.query(
        `INSERT INTO webhook_endpoint_throttles
           (endpoint_id, rate_next_at, unreachable_attempts, breaker_opened_at, probe_at)
         VALUES (?, 0, 7, ?, ?), (?, 0, 2, NULL, NULL)`,
        [open, openedAt, probeAt, closed],
      );
      const openView = {
        state: 'open',
        opened_at: openedAt,
        unreachable_attempts: 7,
        next_probe_at: '2026-12-07T02:00:08.000Z',
      };
      const closedView = { ...CLOSED, unreachable_attempts: 2 };
      expect((await getOne(open)).breaker).toEqual(openView);
      expect((await getOne(closed)).breaker).toEqual(closedView);
      const reads: string[] = [];
      const query = t.dataSource.manager.query.bind(t.dataSource.manager);
      t.dataSource.manager.query = (sql: string, parameters?: unknown[]) => {
        if (sql.includes('webhook_endpoint_throttles')) reads.push(sql);
        return query(sql, parameters);
      };
      const listed = await list();
      expect(Object.fromEntries(listed.map((view) => [view.id, view.breaker]))).toEqual({
        [open]: openView,
        [closed]: closedView,
      });
      expect(reads).toHaveLength(1);
      expect((await patch(open, { max_in_flight: 2 }).expect(200)).body).toMatchObject({
        breaker: openView,
      });
    });

    it('deleting an endpoint deletes its throttle row with it', async () => {
      const { id } = (await create({ url: URL }).expect(201)).body as EndpointBody;
      const { id: other } = (await create({ url: URL }).expect(201)).body as EndpointBody;
      await t.dataSource.query(
        `INSERT INTO webhook_endpoint_throttles
           (endpoint_id, rate_next_at, unreachable_attempts, breaker_opened_at, probe_at)
         VALUES (?, 0, 5, '2026-12-07T02:00:00.000Z', 0), (?, 0, 0, NULL, NULL)`,
        [id, other],
      );
      await request(t.server).delete(`/v1/webhook-endpoints/${id}`).expect(204);
      const rows = await t.dataSource.query<{ endpoint_id: string }[]>(
        'SELECT endpoint_id FROM webhook_endpoint_throttles ORDER BY endpoint_id',
      );
      expect(rows.map((row) => row.endpoint_id)).toEqual([other]);
    });
  });

  describe('the environment endpoint', () => {
    it('shows STEP_COMPLETE_MAX_IN_FLIGHT and STEP_COMPLETE_RATE_LIMIT, and its breaker', async () => {
      t = await createTestApp({
        STEP_COMPLETE_WEBHOOK: 'https://receiver.example.com/hook',
        STEP_COMPLETE_MAX_IN_FLIGHT: '4',
        STEP_COMPLETE_RATE_LIMIT: '2.5',
      });
      const expected = { id: 'env', max_in_flight: 4, rate_limit: 2.5, breaker: CLOSED };
      expect(await getOne('env')).toMatchObject(expected);
      expect((await list())[0]).toMatchObject(expected);
      await t.dataSource.query(
        `INSERT INTO webhook_endpoint_throttles
           (endpoint_id, rate_next_at, unreachable_attempts, breaker_opened_at, probe_at)
         VALUES ('env', 0, 5, '2026-12-07T02:00:00.000Z', ?)
         ON CONFLICT (endpoint_id) DO UPDATE SET unreachable_attempts = excluded.unreachable_attempts,
           breaker_opened_at = excluded.breaker_opened_at, probe_at = excluded.probe_at`,
        [Date.parse('2026-12-07T02:00:01.000Z')],
      );
      expect((await getOne('env')).breaker).toEqual({
        state: 'open',
        opened_at: '2026-12-07T02:00:00.000Z',
        unreachable_attempts: 5,
        next_probe_at: '2026-12-07T02:00:01.000Z',
      });
      await patch('env', { max_in_flight: 2 }).expect(409);
      await patch('env', { rate_limit: null }).expect(409);
    });

    it('/metrics shows each endpoint’s breaker as every process hears of it (the revision)', async () => {
      t = await createTestApp({ STEP_COMPLETE_WEBHOOK: 'https://receiver.example.com/hook' });
      const { id } = (await create({ url: URL }).expect(201)).body as EndpointBody;
      const gauge = async (endpointId: string) => {
        const text = (await request(t.server).get('/metrics').expect(200)).text;
        const line = text
          .split('\n')
          .find((l) => l.startsWith(`stephook_endpoint_breaker_open{endpoint="${endpointId}"} `));
        return line === undefined ? undefined : Number(line.split(' ').pop());
      };
      expect([await gauge('env'), await gauge(id)]).toEqual([0, 0]);
      // As the delivery engine opens a breaker: the throttle row, then the endpoints' revision.
      await t.dataSource.query(
        `INSERT INTO webhook_endpoint_throttles
           (endpoint_id, rate_next_at, unreachable_attempts, breaker_opened_at, probe_at)
         VALUES (?, 0, 5, '2026-12-07T02:00:00.000Z', 0)
         ON CONFLICT (endpoint_id) DO UPDATE SET unreachable_attempts = excluded.unreachable_attempts,
           breaker_opened_at = excluded.breaker_opened_at, probe_at = excluded.probe_at`,
        [id],
      );
      await t.dataSource.query(
        'UPDATE webhook_endpoint_revision SET revision = revision + 1 WHERE id = 1',
      );
      await eventually(
        async () => (await gauge(id)) === 1,
        'the gauge shows the open breaker',
        5_000,
      );
      expect(await gauge('env')).toBe(0);
      await request(t.server).delete(`/v1/webhook-endpoints/${id}`).expect(204);
      expect(await gauge(id)).toBeUndefined();
    });

    it('defaults to 64 in flight and no rate limit', async () => {
      t = await createTestApp({ STEP_COMPLETE_WEBHOOK: 'https://receiver.example.com/hook' });
      expect(await getOne('env')).toMatchObject({ max_in_flight: 64, rate_limit: null });
    });
  });
});
