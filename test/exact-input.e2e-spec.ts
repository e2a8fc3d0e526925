import request from 'supertest';
import { MAX_LISTED_PROBLEMS } from '../src/common/request-schema.js';
import { MAX_KEYS_PER_OBJECT } from '../src/common/json-body.js';
import { Step } from '../src/steps/entities/step.entity.js';
import { WebhookEndpoint } from '../src/webhook/endpoints/entities/webhook-endpoint.entity.js';
import { StepsApi } from './helpers/steps-api.js';
import { createTestApp, TestApp } from './helpers/test-app.js';

/** Every Object.prototype member name but the two every body refuses (`__proto__`, `constructor`). */
const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype).filter(
  (name) => name !== '__proto__' && name !== 'constructor',
);

function keyed(names: string[], value: (i: number) => unknown): Record<string, unknown> {
  return Object.fromEntries(names.map((name, i) => [name, value(i)]));
}

/**
 * "What is accepted is exactly what is stored and sent" (SPEC §9), for what a body can hold:
 * keys named after Object.prototype members, text that is not Unicode, and very many keys.
 */
describe('Exact input (e2e)', () => {
  let t: TestApp;
  let steps: StepsApi;

  beforeAll(async () => {
    t = await createTestApp();
    steps = new StepsApi(t.server);
  });

  afterAll(() => t.close());

  const rows = async () => ({
    steps: await t.dataSource.getRepository(Step).count(),
    endpoints: await t.dataSource.getRepository(WebhookEndpoint).count(),
  });

  describe('keys named after Object.prototype members', () => {
    it('covers the names this test means (toString, valueOf, __defineGetter__, …)', () => {
      expect(PROTOTYPE_NAMES).toEqual(
        expect.arrayContaining(['toString', 'valueOf', 'hasOwnProperty', '__defineGetter__']),
      );
    });

    it('keeps them in error_details, at the top and nested, stored and returned exactly', async () => {
      const inner = keyed(PROTOTYPE_NAMES, (i) => i);
      const details = {
        ...keyed(PROTOTYPE_NAMES, (i) => `top-${i}`),
        keep: 3,
        nested: { ...inner, deeper: [{ ...inner }] },
      };
      const step = await steps.create();
      const failed = await steps
        .complete(step.id, 'failed', {
          error_type: 'E',
          error_message: 'm',
          error_details: details,
        })
        .expect(200);
      expect(failed.body.error_data.details).toEqual(details);
      const read = await request(t.server).get(`/v1/steps/${step.id}`).expect(200);
      expect(read.body.error_data.details).toEqual(details);
      expect(Object.keys(read.body.error_data.details as object)).toEqual(Object.keys(details));
    });

    it('keeps them in usage.prompt_tokens_details and completion_tokens_details', async () => {
      const prompt = {
        ...keyed(PROTOTYPE_NAMES, (i) => i),
        nested: keyed(PROTOTYPE_NAMES, () => 1),
      };
      const completion = keyed(PROTOTYPE_NAMES, (i) => ({ [PROTOTYPE_NAMES[i]]: i }));
      const step = await steps.create();
      const done = await steps
        .complete(step.id, 'success', {
          usage: { prompt_tokens_details: prompt, completion_tokens_details: completion },
        })
        .expect(200);
      const read = await request(t.server).get(`/v1/steps/${step.id}`).expect(200);
      for (const body of [done.body, read.body]) {
        expect(body.prompt_tokens_details).toEqual(prompt);
        expect(body.completion_tokens_details).toEqual(completion);
      }
    });

    // A typed object (a DTO) declares no such field: class-transformer once skipped them before the
    // whitelist could see them, so they were ignored where every other unknown field is a 400.
    it.each([
      ['a create', '/v1/steps', { toString: 'x' }, 'property toString should not exist'],
      [
        'usage',
        '/v1/steps/:id/success',
        { usage: { valueOf: 1 } },
        'property usage.valueOf should not exist',
      ],
      [
        'an endpoint filter',
        '/v1/webhook-endpoints',
        { url: 'https://example.com/h', filter: { hasOwnProperty: ['x'] } },
        'property filter.hasOwnProperty should not exist',
      ],
    ])('refuses one in %s, naming it, and writes nothing', async (_, path, body, says) => {
      const id = (await steps.create()).id;
      const before = await rows();
      const response = await request(t.server).post(path.replace(':id', id)).send(body).expect(400);
      expect(response.body.message).toEqual([says]);
      expect(await rows()).toEqual(before);
      const step = await request(t.server).get(`/v1/steps/${id}`).expect(200);
      expect(step.body.status).toBe('pending');
    });
  });

  describe('text that is not Unicode', () => {
    it.each([
      ['agent_id', '/v1/steps', { agent_id: '\ud800' }, 'agent_id must be well-formed Unicode'],
      ['a tag', '/v1/steps', { tags: ['ok', 'a\udfff'] }, 'tags[1] must be well-formed Unicode'],
      [
        'a filter value',
        '/v1/webhook-endpoints',
        { url: 'https://example.com/h', filter: { agent_ids: ['\udfff'] } },
        'filter.agent_ids[0] must be well-formed Unicode',
      ],
      [
        'a key in headers',
        '/v1/webhook-endpoints',
        { url: 'https://example.com/h', headers: { 'x-\ud800': 'v' } },
        'field name "x-\\ud800" in headers must be well-formed Unicode',
      ],
    ])('refuses a lone surrogate in %s with a 400 naming it', async (_, path, body, says) => {
      const before = await rows();
      const response = await request(t.server).post(path).send(body).expect(400);
      expect(response.body.message).toBe(`${says} (it holds a lone surrogate)`);
      expect(await rows()).toEqual(before);
    });

    it('keeps a surrogate pair (an emoji) exactly', async () => {
      const step = await steps.create({ agent_id: 'agent-😀' });
      const read = await request(t.server).get(`/v1/steps/${step.id}`).expect(200);
      expect(read.body.agent_id).toBe('agent-😀');
    });

    it.each([
      ['an overlong NUL (C0 80)', [0xc0, 0x80]],
      ['an encoded surrogate (CESU, ED A0 80)', [0xed, 0xa0, 0x80]],
      ['a Latin-1 byte', [0xe9]],
    ])('refuses a body with %s in a string: not valid UTF-8', async (_, bytes) => {
      const before = await rows();
      const body = Buffer.concat([
        Buffer.from('{"agent_id":"a'),
        Buffer.from(bytes),
        Buffer.from('"}'),
      ]);
      const response = await request(t.server)
        .post('/v1/steps')
        .set('content-type', 'application/json')
        // superagent would send a Buffer as JSON of its bytes under this Content-Type.
        .serialize(() => body as unknown as string)
        .send(body)
        .expect(400);
      expect(response.body.message).toBe('Request body is not valid UTF-8');
      expect(await rows()).toEqual(before);
    });

    it.each(['latin1', 'utf-16', 'ISO-8859-1', '"utf-16le"'])(
      'refuses a JSON Content-Type with charset=%s: 415 saying so',
      async (charset) => {
        const response = await request(t.server)
          .post('/v1/steps')
          .set('content-type', `application/json; charset=${charset}`)
          .send('{"agent_id":"a"}')
          .expect(415);
        expect(response.body.message).toContain('Content-Type charset must be utf-8');
      },
    );

    it.each(['utf-8', 'UTF-8', '"utf-8"', 'utf8'])('accepts charset=%s', async (charset) => {
      await request(t.server)
        .post('/v1/steps')
        .set('content-type', `application/json; charset=${charset}`)
        .send('{"agent_id":"a"}')
        .expect(201);
    });
  });

  describe('very many keys', () => {
    const many = (n: number, prefix = 'k') =>
      keyed(
        Array.from({ length: n }, (_, i) => `${prefix}${i}`),
        (i) => i,
      );

    it(`stores error_details with ${MAX_KEYS_PER_OBJECT} keys in one object exactly`, async () => {
      const step = await steps.create();
      const details = many(MAX_KEYS_PER_OBJECT);
      const failed = await steps
        .complete(step.id, 'failed', {
          error_type: 'E',
          error_message: 'm',
          error_details: details,
        })
        .expect(200);
      expect(failed.body.error_data.details).toEqual(details);
    });

    it.each([
      [
        'error_details',
        { error_type: 'E', error_message: 'm', error_details: 'MANY' },
        'error_details',
      ],
      [
        'a nested object',
        { error_type: 'E', error_message: 'm', error_details: { a: 'MANY' } },
        'error_details.a',
      ],
      ['the body itself', 'MANY', 'Request body'],
    ])(
      `refuses more than ${MAX_KEYS_PER_OBJECT} keys in %s with a 400 naming it`,
      async (_, shape, named) => {
        const step = await steps.create();
        const text = JSON.stringify(shape).replace(
          '"MANY"',
          JSON.stringify(many(MAX_KEYS_PER_OBJECT + 1)),
        );
        const response = await request(t.server)
          .post(`/v1/steps/${step.id}/error`)
          .set('content-type', 'application/json')
          .send(text)
          .expect(400);
        expect(response.body.message).toBe(
          `${named} has ${MAX_KEYS_PER_OBJECT + 1} fields; at most ${MAX_KEYS_PER_OBJECT} are accepted in one object`,
        );
        const read = await request(t.server).get(`/v1/steps/${step.id}`).expect(200);
        expect(read.body.status).toBe('pending');
      },
    );

    it('refuses a headers object with more keys than allowed, naming headers', async () => {
      const response = await request(t.server)
        .post('/v1/webhook-endpoints')
        .send({ url: 'https://example.com/h', headers: many(MAX_KEYS_PER_OBJECT + 1, 'x-') })
        .expect(400);
      expect(response.body.message).toContain('headers has');
    });

    it.each([
      ['an unknown field', 'junk', 'property junk should not exist'],
      ['tags', 'tags', 'each value in tags must be a string'],
    ])('refuses many big objects under %s, naming it', async (_, field, says) => {
      const before = await rows();
      const objects = Array.from({ length: 50 }, () => many(MAX_KEYS_PER_OBJECT));
      const response = await request(t.server)
        .post('/v1/steps')
        .send({ [field]: objects })
        .expect(400);
      expect(response.body.message).toEqual(expect.arrayContaining([says]));
      expect(await rows()).toEqual(before);
    });

    it('refuses an array where a typed object belongs', async () => {
      const step = await steps.create();
      const response = await steps
        .complete(step.id, 'success', { usage: [{ prompt_tokens: 1 }] })
        .expect(400);
      expect(response.body.message).toEqual(['usage must be an object, not an array']);
    });

    it(`lists at most ${MAX_LISTED_PROBLEMS} unknown fields and says how many more`, async () => {
      const before = await rows();
      const response = await request(t.server)
        .post('/v1/steps')
        .send(many(MAX_KEYS_PER_OBJECT, 'unknown_'))
        .expect(400);
      const message = response.body.message as string[];
      expect(message).toHaveLength(MAX_LISTED_PROBLEMS + 1);
      expect(message[0]).toBe('property unknown_0 should not exist');
      expect(message[MAX_LISTED_PROBLEMS]).toBe(
        `… and ${MAX_KEYS_PER_OBJECT - MAX_LISTED_PROBLEMS} more problems`,
      );
      expect(await rows()).toEqual(before);
    });

    it(`lists up to ${MAX_LISTED_PROBLEMS} problems in full`, async () => {
      const response = await request(t.server)
        .post('/v1/steps')
        .send(many(MAX_LISTED_PROBLEMS, 'unknown_'))
        .expect(400);
      expect(response.body.message).toHaveLength(MAX_LISTED_PROBLEMS);
    });
  });

  describe('query strings', () => {
    it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])(
      'refuses ?%s=x, which the query parser drops, naming it',
      async (name) => {
        const response = await request(t.server).get(`/v1/steps?${name}=x`).expect(400);
        expect(response.body.message).toBe(`query parameter ${name} is not allowed`);
      },
    );

    it('refuses a query value whose percent-escapes are not UTF-8, naming it', async () => {
      const response = await request(t.server).get('/v1/steps?agent_id=%ED%A0%80').expect(400);
      expect(response.body.message).toBe(
        'query "agent_id" is not valid UTF-8 once percent-decoded',
      );
    });

    it('refuses a path parameter whose percent-escapes are not UTF-8', async () => {
      await request(t.server).get('/v1/runs/%ED%A0%80/steps').expect(400);
    });

    it('answers ?limit=1&limit=2 with one message naming limit', async () => {
      const response = await request(t.server).get('/v1/steps?limit=1&limit=2').expect(400);
      expect(response.body.message).toEqual(['limit must be given once']);
    });

    it('answers ?limit=0 with one message naming the range', async () => {
      const response = await request(t.server).get('/v1/steps?limit=0').expect(400);
      expect(response.body.message).toEqual(['limit must be an integer from 1 to 1000']);
    });
  });
});
