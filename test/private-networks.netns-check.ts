import { HttpModule } from '@nestjs/axios';
import { Test } from '@nestjs/testing';
import type { LookupAddress } from 'node:dns';
import { networkInterfaces } from 'node:os';
import request from 'supertest';
import { parseWebhookConfig } from '../src/config/webhook.config.js';
import type { DeliveryWithAttemptsJson } from '../src/webhook/deliveries/delivery.presenter.js';
import type { Lookup, NetworkRule } from '../src/webhook/sender/private-networks.js';
import { DNS_LOOKUP, WebhookSender } from '../src/webhook/sender/webhook-sender.js';
import { CountingProxy } from './helpers/counting-proxy.js';
import { eventually } from './helpers/deadline.js';
import { ServerProcess } from './helpers/server-process.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';
import { useWebhookTestbed } from './helpers/webhook-testbed.js';
import { WEBHOOK_CONFIG } from '../src/config/stephook-config.module.js';

/*
 * Run only inside a network namespace that has nothing but loopback (`unshare -n`), by
 * test/private-networks.e2e-spec.ts: were the guard to fail, these attempts would connect to
 * NAT64, 6to4, Teredo or shared addresses, and here such a connection cannot leave the machine.
 */
beforeAll(() => {
  const interfaces = Object.keys(networkInterfaces());
  if (interfaces.some((name) => name !== 'lo')) {
    throw new Error(
      `refusing to run outside an isolated network namespace (${interfaces.join(', ')})`,
    );
  }
});

/** URL (PORT = the receiver's) → the rule its attempt must be refused under. */
const FORMS: [string, NetworkRule][] = [
  ['http://127.0.0.1:PORT/', 'loopback'],
  ['http://localhost:PORT/', 'loopback'],
  ['http://LocalHost:PORT/', 'loopback'],
  ['http://[::1]:PORT/', 'loopback'],
  ['http://[::ffff:127.0.0.1]:PORT/', 'loopback'],
  ['http://[::127.0.0.1]:PORT/', 'loopback'],
  ['http://[::ffff:0:7f00:1]:PORT/', 'loopback'],
  ['http://[64:ff9b::7f00:1]:PORT/', 'loopback'],
  ['http://[64:ff9b:1::7f00:1]:PORT/', 'loopback'],
  ['http://[2002:7f00:1::]:PORT/', 'loopback'],
  ['http://[2001:0:808:808::80ff:fffe]:PORT/', 'loopback'],
  ['http://169.254.169.254/', 'link-local'],
  ['http://[64:ff9b::a9fe:a9fe]/', 'link-local'],
  ['http://10.0.0.1:PORT/', 'private'],
  ['http://100.64.0.1:PORT/', 'shared'],
  ['http://198.18.0.1:PORT/', 'benchmarking'],
  ['http://192.0.2.1:PORT/', 'documentation'],
  ['http://240.0.0.1:PORT/', 'reserved'],
  ['http://224.0.0.1:PORT/', 'multicast'],
  ['http://255.255.255.255:PORT/', 'broadcast'],
  ['http://[fec0::1]:PORT/', 'site-local'],
  ['http://[ff02::1]:PORT/', 'multicast'],
  ['http://[64:ff9b:1::808:808]:PORT/', 'nat64-local'],
];

/**
 * Legacy IPv4 spellings (decimal, hex, octal, short) never get as far as an attempt: the URL rule
 * accepts only a host name, an exact dotted-quad IPv4 or an [IPv6] address, so they are a 400 naming
 * `url` and nothing is stored. (The guard refuses them too: the unit table and the DNS cases below.)
 */
const REFUSED_AT_CREATE = [
  'http://2130706433:PORT/',
  'http://0x7f000001:PORT/',
  'http://0177.0.0.1:PORT/',
  'http://127.1:PORT/',
];

describe('API endpoints and every non-global address form (e2e, isolated network)', () => {
  const bed = useWebhookTestbed();

  it('refuses legacy IPv4 spellings when the endpoint is created, storing nothing', async () => {
    await bed.start({ STEP_COMPLETE_RETRY_SCHEDULE: 'none' });
    for (const form of REFUSED_AT_CREATE) {
      const url = form.replace('PORT', String(bed.receiver.port));
      const refused = await request(bed.app.server)
        .post('/v1/webhook-endpoints')
        .send({ url })
        .expect(400);
      expect(JSON.stringify(refused.body)).toContain('url must be');
    }
    const listed = await request(bed.app.server).get('/v1/webhook-endpoints').expect(200);
    expect((listed.body as { id: string }[]).map((endpoint) => endpoint.id)).toEqual(['env']);
  });

  it('records each attempt as a network_error naming the rule, and nothing reaches the receiver', async () => {
    await bed.start({ STEP_COMPLETE_RETRY_SCHEDULE: 'none' });
    const endpointRule = new Map<string, NetworkRule>();
    for (const [index, [form, rule]] of FORMS.entries()) {
      const url = `${form.replace('PORT', String(bed.receiver.port))}form-${index}`;
      const created = await request(bed.app.server)
        .post('/v1/webhook-endpoints')
        .send({ url })
        .expect(201);
      endpointRule.set((created.body as { id: string }).id, rule);
    }
    const step = await bed.steps.create();
    await bed.steps.complete(step.id, 'success').expect(200);

    let deliveries: DeliveryWithAttemptsJson[] = [];
    await eventually(
      async () => {
        deliveries = await bed.deliveries.forStep(step.id);
        const settled = deliveries.filter((d) => d.status === 'failed' || d.status === 'delivered');
        return settled.length === FORMS.length + 1;
      },
      'every delivery of the step has settled',
      20_000,
    );

    const refused = deliveries.filter((delivery) => delivery.endpoint_id !== 'env');
    expect(refused).toHaveLength(FORMS.length);
    for (const delivery of refused) {
      const rule = endpointRule.get(delivery.endpoint_id);
      const seen = {
        status: delivery.status,
        outcome: delivery.attempts.map((attempt) => attempt.outcome),
        names: delivery.attempts.every((a) => a.error?.includes(`: a ${rule} address`)),
      };
      expect([delivery.endpoint_id, seen]).toEqual([
        delivery.endpoint_id,
        { status: 'failed', outcome: ['network_error'], names: true },
      ]);
    }
    // The environment endpoint, on the same receiver, was the only one heard.
    expect(bed.receiver.requests.map((received) => received.path)).toEqual(['/hook']);
  });
});

/** The same forms as a DNS answer: a name that resolves to them is refused at connect time. */
describe('WebhookSender and DNS answers in every form (isolated network)', () => {
  let receiver: WebhookReceiver;
  let sut: WebhookSender;
  let answer = '127.0.0.1';
  const resolver: Lookup = (_hostname, options, callback) => {
    const entry: LookupAddress = { address: answer, family: answer.includes(':') ? 6 : 4 };
    if (options.all) callback(null, [entry]);
    else callback(null, entry.address, entry.family);
  };

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    const moduleRef = await Test.createTestingModule({
      imports: [HttpModule],
      providers: [
        WebhookSender,
        { provide: WEBHOOK_CONFIG, useValue: parseWebhookConfig({}) },
        { provide: DNS_LOOKUP, useValue: resolver },
      ],
    }).compile();
    sut = moduleRef.get(WebhookSender);
  });
  afterAll(async () => {
    sut.onApplicationShutdown();
    await receiver.close();
  });

  it.each([
    ['127.0.0.1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::127.0.0.1', 'loopback'],
    ['::ffff:0:7f00:1', 'loopback'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['2002:7f00:1::', 'loopback'],
    ['2001:0:808:808::80ff:fffe', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['100.64.0.1', 'shared'],
    ['198.18.0.1', 'benchmarking'],
    ['240.0.0.1', 'reserved'],
    ['fec0::1', 'site-local'],
  ])('refuses a name that resolves to %s (%s)', async (address, rule) => {
    answer = address;
    const result = await sut.send({
      url: new URL(`http://rebind.example:${receiver.port}/hook`),
      body: '{}',
      headers: {},
      restricted: true,
    });
    expect(result).toMatchObject({ outcome: 'network_error', statusCode: null });
    expect(result.error).toContain(`refused to connect to ${address}: a ${rule} address`);
    expect(receiver.requests).toHaveLength(0);
  });
});

/** The tester's report: with HTTP_PROXY set, a hostname endpoint went to the proxy. */
describe('stephook with an environment proxy (isolated network)', () => {
  it('sends no API endpoint request to the proxy, even one whose name does not resolve', async () => {
    const proxy = await CountingProxy.start();
    const server = await ServerProcess.start({
      DATABASE_URL: 'sqlite::memory:',
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
      HTTP_PROXY: proxy.url,
      http_proxy: proxy.url,
      ALL_PROXY: proxy.url,
    });
    const post = (path: string, body: object = {}) =>
      fetch(`${server.baseUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    try {
      const url = 'http://metadata.google.internal/computeMetadata/v1/';
      expect((await post('/v1/webhook-endpoints', { url })).status).toBe(201);
      const step = (await (await post('/v1/steps')).json()) as { id: string };
      expect((await post(`/v1/steps/${step.id}/success`)).status).toBe(200);
      let deliveries: DeliveryWithAttemptsJson[] = [];
      await eventually(
        async () => {
          const response = await fetch(`${server.baseUrl}/v1/steps/${step.id}/deliveries`);
          deliveries = (await response.json()) as DeliveryWithAttemptsJson[];
          return deliveries.length === 1 && deliveries[0].status !== 'pending';
        },
        'the delivery has settled',
        20_000,
      );
      expect(proxy.requests).toEqual([]);
      expect(deliveries[0]).toMatchObject({ status: 'failed', last_outcome: 'network_error' });
    } finally {
      server.kill('SIGKILL');
      await server.exited;
      await proxy.close();
    }
  });
});
