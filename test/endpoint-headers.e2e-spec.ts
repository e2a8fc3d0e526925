import { once } from 'node:events';
import { createServer, Server, Socket } from 'node:net';
import request from 'supertest';
import { eventually } from './helpers/deadline.js';
import { StepsApi } from './helpers/steps-api.js';
import { createTestApp, TestApp } from './helpers/test-app.js';

/**
 * A receiver below HTTP: it keeps the bytes of each request head exactly as they came off the
 * socket, so a test sees what was sent, not what a parser made of it. Answers 204 to each request.
 */
class RawReceiver {
  readonly heads: Buffer[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor() {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      let pending = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        for (;;) {
          const end = pending.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = pending.subarray(0, end + 2);
          const length = /\r\ncontent-length: *(\d+)/i.exec(head.toString('latin1'))?.[1];
          const total = end + 4 + Number(length ?? 0);
          if (pending.length < total) return;
          this.heads.push(Buffer.from(head));
          pending = pending.subarray(total);
          socket.write('HTTP/1.1 204 No Content\r\n\r\n');
        }
      });
    });
  }

  static async start(): Promise<RawReceiver> {
    const receiver = new RawReceiver();
    receiver.server.listen(0, '127.0.0.1');
    await once(receiver.server, 'listening');
    return receiver;
  }

  url(path: string): string {
    const address = this.server.address() as { port: number };
    return `http://127.0.0.1:${address.port}${path}`;
  }

  /** The heads whose request line asks for `path`. */
  headsFor(path: string): Buffer[] {
    return this.heads.filter((head) => head.toString('latin1').startsWith(`POST ${path} `));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
    await once(this.server, 'close');
  }
}

/** Each `name: value` line of a head, the name as sent (case kept) and the value as raw bytes. */
function headerLines(head: Buffer): Array<{ name: string; value: Buffer }> {
  const lines: Array<{ name: string; value: Buffer }> = [];
  let start = head.indexOf('\r\n') + 2;
  while (start < head.length) {
    const end = head.indexOf('\r\n', start);
    const line = head.subarray(start, end);
    const colon = line.indexOf(':');
    lines.push({
      name: line.subarray(0, colon).toString('latin1'),
      value: line.subarray(colon + 2),
    });
    start = end + 2;
  }
  return lines;
}

/**
 * SPEC §9, "what is accepted is exactly what is sent": every header an endpoint is given arrives at
 * the receiver byte for byte (names compare without case, as HTTP says), and every one HTTP cannot
 * carry unchanged, or that stephook or the connection sets, is a 400 naming it.
 */
describe('Endpoint headers on the wire (e2e)', () => {
  let receiver: RawReceiver;
  let t: TestApp;
  let steps: StepsApi;

  const printable = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) =>
    String.fromCharCode(0x21 + i),
  ).join('');
  /** Names that collide with Object.prototype, axios's header methods and its method buckets. */
  const tricky: Record<string, string> = {
    tostring: 'to-string',
    hasownproperty: 'own',
    valueof: 'value-of',
    isprototypeof: 'is-proto',
    __definegetter__: 'getter',
    get: 'g',
    set: 's',
    has: 'h',
    delete: 'd',
    clear: 'c',
    normalize: 'n',
    concat: 'cc',
    tojson: 'j',
    common: 'common',
    post: 'p',
    head: 'hd',
    accept: 'text/plain',
    'accept-encoding': 'identity',
    authorization: 'Bearer receiver-token',
    cookie: 'a=b; c=d',
  };
  const values: Record<string, string> = {
    'x-printable': printable,
    'x-inner-space': 'a b  c',
    'x-inner-tab': 'a\tb',
    'x-longest': 'v'.repeat(4096),
    'X-Mixed-Case': 'Mixed',
    'x-quotes': '"quoted", \'single\'',
    'x-one': '1',
  };

  beforeAll(async () => {
    receiver = await RawReceiver.start();
    t = await createTestApp({
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
      STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8',
    });
    steps = new StepsApi(t.server);
  });

  afterAll(async () => {
    await receiver.close();
    await t.close();
  });

  it('sends each accepted header exactly as it was accepted, tricky names included', async () => {
    const sets = { '/tricky': tricky, '/values': values };
    for (const [path, headers] of Object.entries(sets)) {
      const created = await request(t.server)
        .post('/v1/webhook-endpoints')
        .send({ url: receiver.url(path), headers })
        .expect(201);
      const lowered = Object.fromEntries(
        Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]),
      );
      // The answer that set them shows them in full, as they will be sent.
      expect((created.body as { headers: Record<string, string> }).headers).toEqual(lowered);
    }

    const step = await steps.create();
    await steps.complete(step.id, 'success').expect(200);
    await eventually(
      async () => receiver.heads.length >= 2,
      'both endpoints hear the step',
      20_000,
    );

    let checked = 0;
    for (const [path, headers] of Object.entries(sets)) {
      const [head] = receiver.headsFor(path);
      const lines = headerLines(head);
      for (const [name, value] of Object.entries(headers)) {
        const sent = lines.filter((line) => line.name.toLowerCase() === name.toLowerCase());
        expect({ name, values: sent.map((line) => line.value.toString('latin1')) }).toEqual({
          name,
          values: [value],
        });
        expect(Buffer.compare(sent[0].value, Buffer.from(value, 'ascii'))).toBe(0);
        checked += 1;
      }
      // stephook's own headers are still its own.
      const own = (name: string) =>
        lines.find((line) => line.name.toLowerCase() === name)?.value.toString('latin1');
      expect(own('content-type')).toBe('application/json');
      expect(own('user-agent')).toMatch(/^stephook\//);
      expect(own('webhook-id')).toMatch(/^msg_/);
    }
    expect(checked).toBe(Object.keys(tricky).length + Object.keys(values).length);
  });

  it('sends headers named after every Object.prototype member but the two refused', async () => {
    // class-transformer once dropped these silently: `toString` and `valueOf` are functions on a
    // plain object, so its copy skipped them; the endpoint answered 201 and never sent them.
    const names = Object.getOwnPropertyNames(Object.prototype).filter(
      (name) => name !== '__proto__' && name !== 'constructor',
    );
    expect(names).toEqual(expect.arrayContaining(['toString', 'valueOf', 'hasOwnProperty']));
    const headers = Object.fromEntries(names.map((name, i) => [name, `v${i}`]));
    const created = await request(t.server)
      .post('/v1/webhook-endpoints')
      .send({ url: receiver.url('/proto'), headers })
      .expect(201);
    expect((created.body as { headers: Record<string, string> }).headers).toEqual(
      Object.fromEntries(
        Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]),
      ),
    );
    // The limit of 20 counts them: they were once dropped before it was counted.
    const padding = Array.from({ length: 21 - names.length }, (_, i) => `x-pad-${i}`);
    const refused = await request(t.server)
      .post('/v1/webhook-endpoints')
      .send({
        url: receiver.url('/proto-over'),
        headers: Object.fromEntries([...names, ...padding].map((name) => [name, 'v'])),
      })
      .expect(400);
    expect(JSON.stringify(refused.body.message)).toContain('headers must hold at most 20 headers');

    const step = await steps.create();
    await steps.complete(step.id, 'success').expect(200);
    await eventually(
      async () => receiver.headsFor('/proto').length > 0,
      'the endpoint hears the step',
      20_000,
    );
    const sent = headerLines(receiver.headsFor('/proto')[0]);
    for (const name of names) {
      const lines = sent.filter((line) => line.name.toLowerCase() === name.toLowerCase());
      expect({ name, values: lines.map((line) => line.value.toString('latin1')) }).toEqual({
        name,
        values: [headers[name]],
      });
    }
  });

  const refused: Array<[string, Record<string, unknown>, string]> = [
    ['a non-Latin-1 value', { 'x-a': '€uro' }, '"x-a"'],
    ['a CJK value', { 'x-a': '日本' }, '"x-a"'],
    ['a Latin-1 value', { 'x-a': 'caf\u00e9' }, '"x-a"'],
    ['a control character', { 'x-a': 'a\u0001b' }, '"x-a"'],
    ['DEL', { 'x-a': 'a\u007f' }, '"x-a"'],
    ['CR LF', { 'x-a': 'a\r\nx-b: c' }, '"x-a" must not contain line breaks'],
    ['a leading space', { 'x-a': ' a' }, '"x-a"'],
    ['a trailing tab', { 'x-a': 'a\t' }, '"x-a"'],
    ['an empty value', { 'x-a': '' }, '"x-a"'],
    ['a value over 4096 characters', { 'x-a': 'v'.repeat(4097) }, '"x-a" must be at most 4096'],
    ['NUL', { 'x-a': 'a\u0000' }, 'headers.x-a must not contain NUL characters'],
    ['user-agent', { 'User-Agent': 'mine' }, '"User-Agent" is set by stephook'],
    ['traceparent', { traceparent: '00-x' }, '"traceparent" is set by stephook'],
    ['expect', { expect: '100-continue' }, '"expect" is set by stephook'],
    ['a name with a space', { 'x a': 'v' }, '"x a" is not a header name'],
    ['a non-ASCII name', { 'x-é': 'v' }, '"x-é" is not a header name'],
    ['names that differ in case only', { 'X-A': '1', 'x-a': '2' }, 'name the same header'],
    [
      '__proto__',
      JSON.parse('{"__proto__":"v"}') as Record<string, unknown>,
      '"__proto__" in headers',
    ],
    ['constructor', { constructor: 'v' }, '"constructor" in headers'],
    ['prototype', { prototype: 'v' }, '"prototype" in headers'],
  ];

  it.each(refused)(
    'refuses %s with a 400 naming it, and creates nothing',
    async (_, headers, says) => {
      const before = (await request(t.server).get('/v1/webhook-endpoints').expect(200)).body as [];
      const response = await request(t.server)
        .post('/v1/webhook-endpoints')
        .set('content-type', 'application/json')
        .send(JSON.stringify({ url: receiver.url('/refused'), headers }))
        .expect(400);
      expect(JSON.stringify(response.body.message)).toContain(JSON.stringify(says).slice(1, -1));
      const after = (await request(t.server).get('/v1/webhook-endpoints').expect(200)).body as [];
      expect(after).toHaveLength(before.length);
    },
  );
});
