import { HttpModule } from '@nestjs/axios';
import { Test } from '@nestjs/testing';
import type { LookupAddress } from 'node:dns';
import { BlockList } from 'node:net';
import { WebhookReceiver } from '../../../test/helpers/webhook-receiver.js';
import { parseWebhookConfig, webhookConfig } from '../../config/webhook.config.js';
import { forbiddenRule } from './private-networks.js';
import type { Lookup } from './private-networks.js';
import { DNS_LOOKUP, WebhookSender } from './webhook-sender.js';

describe(forbiddenRule.name, () => {
  const none = new BlockList();

  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['fd00::1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
  ])('refuses %s (%s)', (address, rule) => {
    expect(forbiddenRule(address, none)).toBe(rule);
  });

  it.each(['8.8.8.8', '172.32.0.1', '192.169.0.1', '2606:4700::1111', '1.1.1.1'])(
    'lets the public address %s through',
    (address) => {
      expect(forbiddenRule(address, none)).toBeNull();
    },
  );

  it('lets through what the allow-list opens, and only that', () => {
    const allowed = new BlockList();
    allowed.addSubnet('10.20.0.0', 16, 'ipv4');
    expect(forbiddenRule('10.20.3.4', allowed)).toBeNull();
    expect(forbiddenRule('10.21.3.4', allowed)).toBe('private');
  });
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
        { provide: webhookConfig.KEY, useValue: parseWebhookConfig(env) },
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

  it('leaves the environment endpoint, set by the operator, unrestricted', async () => {
    const url = `http://rebind.example:${receiver.port}/hook`;
    await expect(post(await sender(), url, false)).resolves.toMatchObject({ outcome: 'success' });
    expect(receiver.requests).toHaveLength(1);
  });
});
