import request from 'supertest';
import { StepsApi } from './helpers/steps-api.js';
import { createTestApp, TestApp } from './helpers/test-app.js';

const API_KEY = 'sk-stephook-test-0123456789';

describe('API authentication (e2e)', () => {
  let t: TestApp;

  afterEach(() => t.close());

  /** Every route of the API, with a request that passes validation once authorised. */
  function routes(stepId: string) {
    const step = `/v1/steps/${stepId}`;
    const delivery = '/v1/webhook-deliveries/msg_00000000000000000000000000000000';
    return [
      ['get', '/v1/steps', undefined],
      ['get', '/v1/steps/', undefined],
      ['post', '/v1/steps', {}],
      ['get', step, undefined],
      ['post', `${step}/success`, {}],
      ['post', `${step}/error`, { error_type: 'E', error_message: 'm' }],
      ['post', `${step}/cancel`, {}],
      ['patch', `${step}/feedback`, { feedback: 'positive' }],
      ['put', `${step}/metrics`, { step_ns: 1 }],
      ['get', `${step}/metrics`, undefined],
      ['get', `${step}/deliveries`, undefined],
      ['get', '/v1/runs/run-1/steps', undefined],
      ['get', '/v1/webhook-deliveries', undefined],
      ['get', delivery, undefined],
      ['post', `${delivery}/retry`, undefined],
      ['post', '/v1/webhook-deliveries/recover', { since: '2026-01-01T00:00:00Z' }],
    ] as const;
  }

  function call(
    method: 'get' | 'post' | 'put' | 'patch',
    path: string,
    body: object | undefined,
    auth?: string,
  ) {
    const pending = request(t.server)[method](path);
    if (auth !== undefined) pending.set('authorization', auth);
    return body === undefined ? pending : pending.send(body);
  }

  it('with API_KEY set, refuses every API route without the right Bearer key, and answers it with the key', async () => {
    t = await createTestApp({ API_KEY });
    const stepId = (await new StepsApi(t.server).create().catch(() => ({ id: '' }))).id;
    expect(stepId).toBe(''); // even creating a step needs the key
    const created = await request(t.server)
      .post('/v1/steps')
      .set('authorization', `Bearer ${API_KEY}`)
      .send({});
    expect(created.status).toBe(201);

    for (const [method, path, body] of routes(created.body.id as string)) {
      for (const wrong of [
        undefined,
        '',
        `Bearer ${API_KEY}x`,
        `Bearer ${API_KEY.slice(0, -1)}`,
        `Basic ${API_KEY}`,
        API_KEY,
        'Bearer ',
      ]) {
        const response = await call(method, path, body, wrong);
        expect([method, path, wrong, response.status]).toEqual([method, path, wrong, 401]);
        expect(response.body).toEqual({
          statusCode: 401,
          message: 'Authorization: Bearer <API_KEY> is missing or wrong',
          error: 'Unauthorized',
        });
      }
      const response = await call(method, path, body, `Bearer ${API_KEY}`);
      expect([method, path, response.status === 401]).toEqual([method, path, false]);
      expect(response.status).toBeLessThan(500);
    }
  });

  it('answers 401 before looking at the body, and for unknown paths too', async () => {
    t = await createTestApp({ API_KEY });
    await request(t.server)
      .post('/v1/steps')
      .set('content-type', 'text/plain')
      .send('x')
      .expect(401);
    await request(t.server)
      .post('/v1/steps')
      .set('content-type', 'application/json')
      .send('{bad')
      .expect(401);
    await request(t.server).get('/v1/nothing-here').expect(401);
    await request(t.server)
      .get('/v1/nothing-here')
      .set('authorization', `Bearer ${API_KEY}`)
      .expect(404);
  });

  it('takes the Bearer scheme in any case (RFC 9110) and the key only exactly', async () => {
    t = await createTestApp({ API_KEY });
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      await request(t.server)
        .get('/v1/steps')
        .set('authorization', `${scheme} ${API_KEY}`)
        .expect(200);
      await request(t.server)
        .get('/docs-json')
        .set('authorization', `${scheme} ${API_KEY}`)
        .expect(200);
    }
    for (const wrong of [`Bearer ${API_KEY.toUpperCase()}`, `Basic ${API_KEY}`, API_KEY]) {
      await request(t.server).get('/v1/steps').set('authorization', wrong).expect(401);
    }
  });

  it('with API_KEY set, the API document needs the key in every form; /docs opens on a page that asks for it and holds nothing of it', async () => {
    t = await createTestApp({ API_KEY });
    const key = `Bearer ${API_KEY}`;
    // Every form of the document, and Swagger's init script, which embeds it.
    for (const path of [
      '/docs-json',
      '/docs-yaml',
      '/docs/swagger-ui-init.js',
      '/docs/docs/swagger-ui-init.js',
    ]) {
      for (const wrong of [undefined, `Bearer ${API_KEY}x`]) {
        const refused = await call('get', path, undefined, wrong);
        expect([path, refused.status]).toEqual([path, 401]);
        expect(refused.text).not.toContain('listSteps');
      }
      const answered = await call('get', path, undefined, key).buffer(true);
      expect([path, answered.status]).toEqual([path, 200]);
      expect(answered.text).toContain('listSteps');
    }
    expect(
      (await call('get', '/docs-yaml', undefined, key)).text.startsWith('openapi: 3.0.0'),
    ).toBe(true);

    // The page and its script open without the key, and carry nothing of the document.
    for (const path of ['/docs', '/docs/', '/docs/index.html']) {
      const page = await call('get', path, undefined);
      expect([path, page.status]).toEqual([path, 200]);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");
      expect(page.text).toContain('<script type="module" src="/docs/stephook-docs.js">');
      expect(page.text).not.toMatch(/listSteps|\/v1\/|swagger-ui-init/);
    }
    const script = await call('get', '/docs/stephook-docs.js', undefined).expect(200);
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    expect(script.text).toContain("fetch('/docs-json'");
    expect(script.text).not.toMatch(/listSteps|\/v1\//);
    // Swagger UI's library files too (they hold no document), and nothing else under /docs.
    const bundle = await call('get', '/docs/swagger-ui-bundle.js', undefined).buffer(true);
    expect(bundle.status).toBe(200);
    expect(bundle.text).not.toContain('listSteps');
    await call('get', '/docs/swagger-ui.css', undefined).expect(200);
    await call('get', '/docs/swagger-initializer.js', undefined).expect(401);
  });

  it('without API_KEY, serves /docs with the document as Swagger builds it, and both raw forms', async () => {
    t = await createTestApp({});
    const page = await call('get', '/docs', undefined).expect(200);
    expect(page.text).toContain('swagger-ui-init.js');
    expect((await call('get', '/docs/swagger-ui-init.js', undefined).buffer(true)).text).toContain(
      'listSteps',
    );
    expect((await call('get', '/docs-json', undefined).expect(200)).text).toContain('listSteps');
    expect((await call('get', '/docs-yaml', undefined).expect(200)).text).toContain('listSteps');
  });

  it('leaves /health and /ready open even with API_KEY set', async () => {
    t = await createTestApp({ API_KEY });
    await request(t.server).get('/health').expect(200, { status: 'ok' });
    await request(t.server).get('/ready').expect(200);
  });

  it('without API_KEY, lets every route through', async () => {
    t = await createTestApp({});
    const created = await request(t.server).post('/v1/steps').send({}).expect(201);
    for (const [method, path, body] of routes(created.body.id as string)) {
      const response = await call(method, path, body);
      expect([method, path, response.status === 401]).toEqual([method, path, false]);
    }
  });
});
