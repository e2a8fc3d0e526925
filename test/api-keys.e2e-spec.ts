import type { Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { SCOPES } from '../src/auth/principal.js';
import { eventually } from './helpers/deadline.js';
import { createTestApp, TestApp } from './helpers/test-app.js';

const API_KEY = 'sk-stephook-test-0123456789';
const ADMIN = `Bearer ${API_KEY}`;

interface KeyJson {
  id: string;
  key?: string;
  prefix: string;
  name: string;
  scopes: string[];
  project_ids: string[] | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

describe('API keys (e2e)', () => {
  let t: TestApp;

  afterEach(() => t.close());

  async function createKey(body: object, auth = ADMIN): Promise<KeyJson> {
    const response = await request(t.server)
      .post('/v1/api-keys')
      .set('authorization', auth)
      .send(body);
    expect(response.status).toBe(201);
    return response.body as KeyJson;
  }

  it('shows the key once, stores only its hash, lists and gets it without the key, and refuses it at once once revoked', async () => {
    t = await createTestApp({ API_KEY });
    const created = await createKey({
      name: 'billing',
      scopes: ['steps:read', 'steps:write'],
      project_ids: ['project-1'],
    });
    expect(created).toEqual({
      id: expect.stringMatching(/^key_[0-9a-f]{32}$/),
      key: expect.stringMatching(/^shk_[A-Za-z0-9_-]{43}$/),
      prefix: created.key!.slice(0, 12),
      name: 'billing',
      scopes: ['steps:read', 'steps:write'],
      project_ids: ['project-1'],
      created_at: expect.any(String),
      last_used_at: null,
      revoked_at: null,
    });
    const key = created.key!;
    const { key: _shownOnce, ...record } = created;

    // Hash only: nothing in the table holds the key, or anything past its prefix.
    const rows = await t.dataSource.query<Record<string, unknown>[]>('SELECT * FROM api_keys');
    expect(rows).toHaveLength(1);
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(key);
    expect(stored).not.toContain(key.slice(12, 24));
    expect(rows[0].key_hash).toMatch(/^[0-9a-f]{64}$/);

    const listed = await request(t.server).get('/v1/api-keys').set('authorization', ADMIN);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([record]);
    const got = await request(t.server)
      .get(`/v1/api-keys/${record.id}`)
      .set('authorization', ADMIN);
    expect(got.body).toEqual(record);
    expect(JSON.stringify([listed.body, got.body])).not.toContain(key);

    // The key works for what its scopes allow, and its own record says what that is.
    const bearer = `Bearer ${key}`;
    await request(t.server).get('/v1/steps').set('authorization', bearer).expect(200);
    const current = await request(t.server)
      .get('/v1/api-keys/current')
      .set('authorization', bearer);
    expect(current.status).toBe(200);
    expect(current.body).toMatchObject({ id: record.id, scopes: record.scopes });
    const forbidden = await request(t.server).get('/v1/api-keys').set('authorization', bearer);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toEqual({
      statusCode: 403,
      message: 'This key lacks the scope admin',
      error: 'Forbidden',
    });

    // last_used_at is written off the request path, soon after the first use.
    await eventually(
      async () => {
        const again = await request(t.server)
          .get(`/v1/api-keys/${record.id}`)
          .set('authorization', ADMIN);
        return typeof (again.body as KeyJson).last_used_at === 'string';
      },
      'last_used_at is written after the key is used',
      5_000,
    );

    await request(t.server)
      .delete(`/v1/api-keys/${record.id}`)
      .set('authorization', ADMIN)
      .expect(204);
    // Refused at once in this process, with the same answer as any wrong key.
    const refused = await request(t.server).get('/v1/steps').set('authorization', bearer);
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({
      statusCode: 401,
      message: 'Authorization: Bearer <API_KEY> is missing or wrong',
      error: 'Unauthorized',
    });
    const revoked = await request(t.server)
      .get(`/v1/api-keys/${record.id}`)
      .set('authorization', ADMIN);
    expect(revoked.body).toMatchObject({ id: record.id, revoked_at: expect.any(String) });
    // Revoking again: 204, the first revocation's time kept. An unknown id: 404.
    await request(t.server)
      .delete(`/v1/api-keys/${record.id}`)
      .set('authorization', ADMIN)
      .expect(204);
    const still = await request(t.server)
      .get(`/v1/api-keys/${record.id}`)
      .set('authorization', ADMIN);
    expect((still.body as KeyJson).revoked_at).toBe((revoked.body as KeyJson).revoked_at);
    await request(t.server)
      .delete('/v1/api-keys/key_00000000000000000000000000000000')
      .set('authorization', ADMIN)
      .expect(404);
    // The revoked key stays refused after the ring is read again from the database.
    await new Promise((resolve) => setTimeout(resolve, 700));
    await request(t.server).get('/v1/steps').set('authorization', bearer).expect(401);

    // Nowhere else: not in a log line (every level recorded), not in the metrics.
    expect(t.logs.entries.length).toBeGreaterThan(0);
    expect(JSON.stringify(t.logs.entries)).not.toContain(key);
    const metrics = await request(t.server).get('/metrics').set('authorization', ADMIN).expect(200);
    expect(metrics.text).not.toContain(key);
    expect(metrics.text).not.toContain(API_KEY);
  });

  it('answers /v1/api-keys/current for API_KEY as a record with id null and every scope', async () => {
    t = await createTestApp({ API_KEY });
    const current = await request(t.server).get('/v1/api-keys/current').set('authorization', ADMIN);
    expect(current.status).toBe(200);
    expect(current.body).toEqual({
      id: null,
      prefix: null,
      name: 'API_KEY',
      scopes: [...SCOPES],
      project_ids: null,
      created_at: null,
      last_used_at: null,
      revoked_at: null,
    });
    await request(t.server).get('/v1/api-keys/current').expect(401);
  });

  it('with API_KEY empty stays open to no key and to foreign tokens, but checks a shk_ token as a key', async () => {
    t = await createTestApp({});
    await request(t.server).get('/v1/steps').expect(200);
    await request(t.server).get('/v1/steps').set('authorization', 'Bearer letta-token').expect(200);
    const current = await request(t.server).get('/v1/api-keys/current');
    expect((current.body as { name: string }).name).toBe('API_KEY');
    const { key } = await createKey({ name: 'reader', scopes: ['steps:read'] }, 'Bearer x');
    await request(t.server).get('/v1/steps').set('authorization', `Bearer ${key}`).expect(200);
    const refused = await request(t.server)
      .post('/v1/steps')
      .set('authorization', `Bearer ${key}`)
      .send({});
    expect(refused.status).toBe(403);
    expect((refused.body as { message: string }).message).toBe(
      'This key lacks the scope steps:write',
    );
    await request(t.server).get('/v1/steps').set('authorization', `Bearer ${key}x`).expect(401);
    await request(t.server).get('/v1/steps').set('authorization', 'Bearer shk_nothing').expect(401);
  });

  it('lets any valid key read the API document, whatever its scopes; a revoked key may not', async () => {
    t = await createTestApp({ API_KEY });
    const { id, key } = await createKey({ name: 'scraper', scopes: ['metrics:read'] });
    await request(t.server).get('/docs-json').expect(401);
    await request(t.server).get('/docs-json').set('authorization', `Bearer ${key}`).expect(200);
    await request(t.server).get('/docs-yaml').set('authorization', `Bearer ${key}`).expect(200);
    await request(t.server).delete(`/v1/api-keys/${id}`).set('authorization', ADMIN).expect(204);
    await request(t.server).get('/docs-json').set('authorization', `Bearer ${key}`).expect(401);
  });

  it('checks the scope before reading the body: 403 for bad JSON, another media type, an oversized body', async () => {
    t = await createTestApp({ API_KEY });
    const { key } = await createKey({ name: 'reader', scopes: ['steps:read'] });
    const post = () => request(t.server).post('/v1/steps').set('authorization', `Bearer ${key}`);

    const answers = [
      (await post().set('content-type', 'application/json').send('{bad')).status,
      (await post().set('content-type', 'text/plain').send('hello')).status,
      (
        await post()
          .set('content-type', 'application/json')
          .send(`"${'x'.repeat(2 << 20)}"`)
      ).status,
    ];
    expect(answers).toEqual([403, 403, 403]);
  });

  it('refuses a request with two Authorization headers, whichever comes first (401)', async () => {
    t = await createTestApp({ API_KEY });
    await t.app.listen(0, '127.0.0.1');
    const { port } = (t.app.getHttpServer() as Server).address() as AddressInfo;
    const statusWith = async (authorizations: string[]) => {
      const socket = connect(port, '127.0.0.1');
      socket.write(
        'GET /v1/api-keys/current HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' +
          authorizations.map((value) => `Authorization: ${value}\r\n`).join('') +
          '\r\n',
      );
      let answer = '';
      for await (const chunk of socket) answer += String(chunk);
      return Number(answer.split(' ')[1]);
    };

    expect(await statusWith([ADMIN])).toBe(200);
    expect(await statusWith([ADMIN, 'Bearer junk'])).toBe(401);
    expect(await statusWith(['Bearer junk', ADMIN])).toBe(401);
    expect(await statusWith([ADMIN, ADMIN])).toBe(401);
  });

  it('never echoes a key put in the URL: the 404 names shk_… instead', async () => {
    t = await createTestApp({ API_KEY });
    const key = (await createKey({ name: 'misplaced', scopes: ['steps:read'] })).key ?? '';
    expect(key).toMatch(/^shk_/);
    const response = await request(t.server).get(`/${key}`).set('authorization', ADMIN);
    expect(response.status).toBe(404);
    expect(JSON.stringify(response.body)).not.toContain(key.slice(4));
    expect(response.body.message).toBe('Cannot GET /shk_…');
  });

  it('checks the scope before the body: a key without it gets 403, not 400, for a bad body', async () => {
    t = await createTestApp({ API_KEY });
    const { key } = await createKey({ name: 'reader', scopes: ['steps:read'] });
    const response = await request(t.server)
      .post('/v1/steps')
      .set('authorization', `Bearer ${key}`)
      .send({ prompt_tokens: 'many' });
    expect(response.status).toBe(403);
  });

  it('refuses bad input with a 400 naming the field, never a 500', async () => {
    t = await createTestApp({ API_KEY });
    const valid = { name: 'n', scopes: ['steps:read'] };
    const cases: Array<[string, unknown, string]> = [
      ['name missing', { scopes: ['steps:read'] }, 'name'],
      ['name empty', { ...valid, name: '' }, 'name'],
      ['name null', { ...valid, name: null }, 'name'],
      ['name a number', { ...valid, name: 7 }, 'name'],
      ['name too long', { ...valid, name: 'x'.repeat(201) }, 'name'],
      ['scopes missing', { name: 'n' }, 'scopes'],
      ['scopes empty', { ...valid, scopes: [] }, 'scopes'],
      ['scopes unknown', { ...valid, scopes: ['steps:delete'] }, 'scopes'],
      ['scopes duplicate', { ...valid, scopes: ['steps:read', 'steps:read'] }, 'scopes'],
      ['scopes null', { ...valid, scopes: null }, 'scopes'],
      ['scopes not an array', { ...valid, scopes: 'steps:read' }, 'scopes'],
      ['scopes of numbers', { ...valid, scopes: [1] }, 'scopes'],
      ['project_ids empty', { ...valid, project_ids: [] }, 'project_ids'],
      ['project_ids of numbers', { ...valid, project_ids: [1] }, 'project_ids'],
      ['project_ids with an empty id', { ...valid, project_ids: [''] }, 'project_ids'],
      ['project_ids too long', { ...valid, project_ids: ['p'.repeat(513)] }, 'project_ids'],
      ['project_ids duplicate', { ...valid, project_ids: ['p', 'p'] }, 'project_ids'],
      ['project_ids null', { ...valid, project_ids: null }, 'project_ids'],
      ['project_ids not an array', { ...valid, project_ids: 'p' }, 'project_ids'],
      [
        'metrics:read on a key bound to projects (/metrics covers every project)',
        { ...valid, scopes: ['metrics:read'], project_ids: ['p'] },
        'metrics:read',
      ],
      ['an unknown field', { ...valid, key: 'shk_mine' }, 'key'],
      ['an array body', [valid], 'body'],
      ['a string body', 'name', 'body'],
    ];
    for (const [what, body, field] of cases) {
      const response = await request(t.server)
        .post('/v1/api-keys')
        .set('authorization', ADMIN)
        .set('content-type', 'application/json')
        .send(JSON.stringify(body));
      expect([what, response.status]).toEqual([what, 400]);
      expect([what, JSON.stringify(response.body.message)]).toEqual([
        what,
        expect.stringContaining(field),
      ]);
    }
    expect(await t.dataSource.query('SELECT id FROM api_keys')).toEqual([]);
    for (const [path, status] of [
      ['/v1/api-keys/nope', 400],
      ['/v1/api-keys/key_00000000000000000000000000000000', 404],
      ['/v1/api-keys?limit=0', 400],
      ['/v1/api-keys?after=key_00000000000000000000000000000000', 400],
      ['/v1/api-keys?order=up', 400],
    ] as const) {
      const response = await request(t.server).get(path).set('authorization', ADMIN);
      expect([path, response.status]).toEqual([path, status]);
    }
  });

  it('a key bound to projects manages only keys within them: others are 404, a wider key is a 400', async () => {
    t = await createTestApp({ API_KEY });
    const unbound = await createKey({ name: 'everything', scopes: ['steps:read'] });
    const other = await createKey({ name: 'p2', scopes: ['steps:read'], project_ids: ['p2'] });
    const mixed = await createKey({
      name: 'p1+p2',
      scopes: ['steps:read'],
      project_ids: ['p1', 'p2'],
    });
    const bound = await createKey({
      name: 'p1 admin',
      scopes: ['admin'],
      project_ids: ['p1', 'p3'],
    });
    const as = `Bearer ${bound.key}`;
    for (const body of [
      { name: 'wider', scopes: ['steps:read'] },
      { name: 'wider', scopes: ['steps:read'], project_ids: ['p2'] },
      { name: 'wider', scopes: ['steps:read'], project_ids: ['p1', 'p2'] },
    ]) {
      const refused = await request(t.server)
        .post('/v1/api-keys')
        .set('authorization', as)
        .send(body);
      expect([body, refused.status]).toEqual([body, 400]);
      expect(JSON.stringify(refused.body.message)).toContain('project_ids');
    }
    const inside = await createKey(
      { name: 'p1 reader', scopes: ['steps:read'], project_ids: ['p1'] },
      as,
    );
    const listed = await request(t.server).get('/v1/api-keys?order=asc').set('authorization', as);
    expect((listed.body as KeyJson[]).map((key) => key.id)).toEqual([bound.id, inside.id]);
    const page = await request(t.server)
      .get('/v1/api-keys?order=asc&limit=1')
      .set('authorization', as);
    expect((page.body as KeyJson[]).map((key) => key.id)).toEqual([bound.id]);
    for (const hidden of [unbound, other, mixed]) {
      await request(t.server).get(`/v1/api-keys/${hidden.id}`).set('authorization', as).expect(404);
      await request(t.server)
        .delete(`/v1/api-keys/${hidden.id}`)
        .set('authorization', as)
        .expect(404);
      await request(t.server)
        .get(`/v1/api-keys?after=${hidden.id}`)
        .set('authorization', as)
        .expect(400);
    }
    await request(t.server).get(`/v1/api-keys/${inside.id}`).set('authorization', as).expect(200);
    await request(t.server)
      .delete(`/v1/api-keys/${inside.id}`)
      .set('authorization', as)
      .expect(204);
    // Nothing hidden was revoked.
    const all = await request(t.server).get('/v1/api-keys').set('authorization', ADMIN);
    const revoked = (all.body as KeyJson[]).filter((key) => key.revoked_at !== null);
    expect(revoked.map((key) => key.id)).toEqual([inside.id]);
  });

  it('pages keys like steps: after / before in the requested order', async () => {
    t = await createTestApp({ API_KEY });
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) ids.push((await createKey({ name, scopes: ['admin'] })).id);
    const page = async (query: string) =>
      (
        (
          await request(t.server)
            .get(`/v1/api-keys?${query}`)
            .set('authorization', ADMIN)
            .expect(200)
        ).body as KeyJson[]
      ).map((key) => key.id);
    expect(await page('order=asc')).toEqual(ids);
    expect(await page('order=asc&limit=2')).toEqual(ids.slice(0, 2));
    expect(await page(`order=asc&after=${ids[1]}`)).toEqual([ids[2]]);
    expect(await page(`before=${ids[0]}`)).toEqual([ids[2], ids[1]]);
    expect(await page('')).toEqual([...ids].reverse());
  });
});
