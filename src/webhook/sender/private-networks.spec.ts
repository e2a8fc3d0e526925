import { HttpModule } from '@nestjs/axios';
import { Test } from '@nestjs/testing';
import type { LookupAddress } from 'node:dns';
import { BlockList } from 'node:net';
import { CountingProxy } from '../../../test/helpers/counting-proxy.js';
import { WebhookReceiver } from '../../../test/helpers/webhook-receiver.js';
import { parseWebhookConfig } from '../../config/webhook.config.js';
import { parseAllowedNetworks } from '../../config/webhook.config.js';
import { forbiddenRule, guardedLookup, PrivateNetworkError, verdict } from './private-networks.js';
import type { Lookup, NetworkRule } from './private-networks.js';
import { DNS_LOOKUP, WebhookSender } from './webhook-sender.js';
import { WEBHOOK_CONFIG } from '../../config/stephook-config.module.js';

/** The host of a URL as the sender sees it: `new URL` has already normalised the spelling. */
const hostOf = (url: string) => new URL(url).hostname.replace(/^\[|\]$/g, '');

describe(forbiddenRule.name, () => {
  const none = new BlockList();

  /** Every form the guard must refuse: [address or URL, rule]. */
  const REFUSED: [string, NetworkRule][] = [
    // IPv4, and the URL spellings that name the same address
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['http://2130706433/', 'loopback'],
    ['http://0x7f000001/', 'loopback'],
    ['http://0177.0.0.1/', 'loopback'],
    ['http://0x7f.0.0.1/', 'loopback'],
    ['http://127.1/', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.1', 'documentation'],
    ['203.0.113.1', 'documentation'],
    ['192.0.0.8', 'reserved'],
    ['192.0.0.170', 'reserved'],
    ['192.88.99.1', 'reserved'],
    ['192.88.99.2', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['254.255.255.255', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    // IPv6
    ['::1', 'loopback'],
    ['http://[::1]/', 'loopback'],
    ['::', 'unspecified'],
    ['fd00::1', 'private'],
    ['fc00::1', 'private'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fec0::1', 'site-local'],
    ['ff02::1', 'multicast'],
    ['ff0e::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['2001:2::1', 'benchmarking'],
    ['2001:10::1', 'reserved'],
    ['2001:1::4', 'reserved'],
    ['5f00::1', 'reserved'],
    ['100::1', 'discard'],
    ['4000::1', 'reserved'],
    ['64:ff9b:0:0:1::1', 'reserved'],
    // IPv4 embedded in IPv6, judged by the IPv4 rules
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['http://[::127.0.0.1]/', 'loopback'],
    ['::10.0.0.1', 'private'],
    ['http://[::ffff:0:7f00:1]/', 'loopback'],
    ['::ffff:0:a9fe:a9fe', 'link-local'],
    ['http://[64:ff9b::7f00:1]/', 'loopback'],
    ['http://[64:ff9b::a9fe:a9fe]/', 'link-local'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['64:ff9b::100.64.0.1', 'shared'],
    ['64:ff9b:1::7f00:1', 'loopback'],
    ['64:ff9b:1::808:808', 'nat64-local'],
    ['http://[2002:7f00:1::]/', 'loopback'],
    ['2002:a9fe:a9fe::1', 'link-local'],
    ['2002:c0a8:101::1', 'private'],
    ['2001:0:7f00:1::', 'loopback'], // Teredo server 127.0.0.1
    ['2001:0:808:808::80ff:fffe', 'loopback'], // Teredo client ~0x80fffffe = 127.0.0.1
    ['2001:0:808:808::5601:5601', 'link-local'], // Teredo client 169.254.169.254
  ];

  it.each(REFUSED)('refuses %s (%s)', (spelling, rule) => {
    const address = spelling.startsWith('http') ? hostOf(spelling) : spelling;
    expect(forbiddenRule(address, none)).toBe(rule);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '192.169.0.1',
    '100.128.0.1',
    '2606:4700::1111',
    '2001:4860:4860::8888',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808', // 8.8.8.8 through NAT64
    '2002:808:808::1', // 8.8.8.8 through 6to4
    '2001:0:808:808::f7f7:f7f7', // Teredo, server and client 8.8.8.8
    // exceptions the registries mark globally reachable
    '192.0.0.9',
    '192.0.0.10',
    '192.31.196.1',
    '192.52.193.1',
    '192.175.48.1',
    '2001:1::1',
    '2001:1::2',
    '2001:1::3',
    '2001:3::1',
    '2001:4:112::1',
    '2001:20::1',
    '2001:30::1',
    '2620:4f:8000::1',
  ])('lets the globally reachable address %s through', (address) => {
    expect(forbiddenRule(address, none)).toBeNull();
  });

  it('names the embedded IPv4 address and its form in the refusal', () => {
    const refused = verdict('64:ff9b::a9fe:a9fe', none);
    expect(refused).toEqual({ rule: 'link-local', embedded: '169.254.169.254 (NAT64)' });
    expect(new PrivateNetworkError('64:ff9b::a9fe:a9fe', refused!).message).toContain(
      'refused to connect to 64:ff9b::a9fe:a9fe: a link-local address (it carries ' +
        '169.254.169.254 (NAT64))',
    );
  });

  it('lets through what the allow-list opens, and only that', () => {
    const allowed = new BlockList();
    allowed.addSubnet('10.20.0.0', 16, 'ipv4');
    expect(forbiddenRule('10.20.3.4', allowed)).toBeNull();
    expect(forbiddenRule('10.21.3.4', allowed)).toBe('private');
  });

  it('opens every form of an allowed IPv4 range, except local-use NAT64', () => {
    const allowed = parseAllowedNetworks('127.0.0.0/8');
    for (const form of [
      '127.0.0.1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::127.0.0.1',
      '::ffff:0:7f00:1',
      '64:ff9b::7f00:1',
      '2002:7f00:1::',
      '2001:0:808:808::80ff:fffe',
    ]) {
      expect([form, forbiddenRule(form, allowed)]).toEqual([form, null]);
    }
    expect(forbiddenRule('64:ff9b:1::7f00:1', allowed)).toBe('nat64-local');
    expect(forbiddenRule('::1', allowed)).toBe('loopback');
    expect(forbiddenRule('::ffff:10.0.0.1', allowed)).toBe('private');
    expect(forbiddenRule('64:ff9b:1::7f00:1', parseAllowedNetworks('64:ff9b:1::/48'))).toBeNull();
  });
});

describe(guardedLookup.name, () => {
  const lookupThrough = (answers: string[], allowed = new BlockList()) =>
    new Promise<NodeJS.ErrnoException | null>((resolve) => {
      const fixed: Lookup = (_hostname, _options, callback) =>
        callback(
          null,
          answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
        );
      guardedLookup(allowed, fixed)('any.example', { all: true }, (error) => resolve(error));
    });

  it('refuses a name when any one of its addresses is refused, naming that rule', async () => {
    const error = await lookupThrough(['8.8.8.8', '64:ff9b::7f00:1']);
    expect(error?.code).toBe('EPRIVATENETWORK');
    expect(error?.message).toContain('64:ff9b::7f00:1: a loopback address');
    await expect(lookupThrough(['8.8.8.8', '2606:4700::1111'])).resolves.toBeNull();
  });

  it.each(['localhost', 'LocalHost'])(
    'refuses %s as the machine resolves it (the hosts file)',
    async (name) => {
      const error = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
        guardedLookup(new BlockList())(name, { all: true }, (failure) => resolve(failure)),
      );
      expect(error?.message).toContain('a loopback address');
    },
  );
});

/**
 * The check on the address actually connected to, through the sender's own agents: a real receiver
 * on loopback, and a resolver of the test's that answers what a rebinding DNS server would.
 */
describe('WebhookSender and private networks', () => {
  let receiver: WebhookReceiver;
  let senders: WebhookSender[] = [];
  /** Every name resolves to loopback, as a hostile DNS answer would. */
  const rebinding: Lookup = (_hostname, options, callback) => {
    const answer: LookupAddress = { address: '127.0.0.1', family: 4 };
    if (options.all) callback(null, [answer]);
    else callback(null, answer.address, answer.family);
  };

  async function sender(env: Record<string, string> = {}): Promise<WebhookSender> {
    const moduleRef = await Test.createTestingModule({
      imports: [HttpModule],
      providers: [
        WebhookSender,
        { provide: WEBHOOK_CONFIG, useValue: parseWebhookConfig(env) },
        { provide: DNS_LOOKUP, useValue: rebinding },
      ],
    }).compile();
    const created = moduleRef.get(WebhookSender);
    senders.push(created);
    return created;
  }

  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
  });
  afterEach(async () => {
    for (const created of senders) created.onApplicationShutdown();
    senders = [];
    await receiver.close();
  });

  const post = (sut: WebhookSender, url: string, restricted: boolean) =>
    sut.send({ url: new URL(url), body: '{}', headers: {}, restricted });

  it('refuses an API endpoint whose URL names a loopback address, without connecting', async () => {
    const result = await post(await sender(), receiver.url(), true);
    expect(result).toMatchObject({ outcome: 'network_error', statusCode: null });
    expect(result.error).toContain('refused to connect to 127.0.0.1: a loopback address');
    expect(receiver.requests).toHaveLength(0);
  });

  it.each([
    'http://[::1]:PORT/hook',
    'http://[::ffff:127.0.0.1]:PORT/hook',
    'http://[::ffff:7f00:1]:PORT/hook',
    'http://2130706433:PORT/hook',
    'http://0x7f.1:PORT/hook',
    'http://0177.0.0.1:PORT/hook',
    'http://127.1:PORT/hook',
  ])('refuses the loopback spelling %s without connecting', async (spelling) => {
    const result = await post(
      await sender(),
      spelling.replace('PORT', String(receiver.port)),
      true,
    );
    expect(result).toMatchObject({ outcome: 'network_error', statusCode: null });
    expect(result.error).toContain('a loopback address');
    expect(receiver.requests).toHaveLength(0);
  });

  it('refuses a host name that resolves to loopback, at connect time', async () => {
    const url = `http://rebind.example:${receiver.port}/hook`;
    const result = await post(await sender(), url, true);
    expect(result).toMatchObject({ outcome: 'network_error' });
    expect(result.error).toContain('a loopback address');
    expect(receiver.requests).toHaveLength(0);
  });

  it('connects where STEP_COMPLETE_ALLOWED_NETWORKS opens the range', async () => {
    const sut = await sender({ STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8' });
    const url = `http://rebind.example:${receiver.port}/hook`;
    await expect(post(sut, url, true)).resolves.toMatchObject({ outcome: 'success' });
    await expect(post(sut, receiver.url(), true)).resolves.toMatchObject({ outcome: 'success' });
    expect(receiver.requests).toHaveLength(2);
  });

  describe('with a proxy in the environment', () => {
    const VARIABLES = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'ALL_PROXY'];
    let proxy: CountingProxy;
    let saved: Record<string, string | undefined>;

    beforeEach(async () => {
      proxy = await CountingProxy.start();
      saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
      for (const name of VARIABLES) process.env[name] = proxy.url;
    });
    afterEach(async () => {
      for (const name of VARIABLES) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
      await proxy.close();
    });

    it('never lets it carry an API endpoint around the guard', async () => {
      const sut = await sender();
      const url = `http://rebind.example:${receiver.port}/hook`;
      const result = await post(sut, url, true);
      expect(result).toMatchObject({ outcome: 'network_error' });
      expect(result.error).toContain('a loopback address');
      const https = await post(sut, `https://rebind.example:${receiver.port}/hook`, true);
      expect(https.error).toContain('a loopback address');
      expect(proxy.requests).toEqual([]);
      expect(receiver.requests).toHaveLength(0);
    });

    it('still carries the environment endpoint, as it did before', async () => {
      const url = `http://rebind.example:${receiver.port}/hook`;
      await expect(post(await sender(), url, false)).resolves.toMatchObject({ outcome: 'success' });
      expect(proxy.requests).toEqual([`POST ${url}`]);
      expect(receiver.requests).toHaveLength(0);
    });
  });

  it('leaves the environment endpoint, set by the operator, unrestricted', async () => {
    const url = `http://rebind.example:${receiver.port}/hook`;
    await expect(post(await sender(), url, false)).resolves.toMatchObject({ outcome: 'success' });
    expect(receiver.requests).toHaveLength(1);
  });
});
